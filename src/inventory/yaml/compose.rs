//! YAML events to a tree of raw nodes (PyYAML's `Composer`): anchors and aliases resolved,
//! tags kept, nothing typed yet.

use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span};

use super::syntax;
use crate::inventory::{InventoryError, Origin, Result};

/// A composed YAML node, before construction (aliases share the anchored node).
#[derive(Debug)]
pub(super) enum Raw {
    Scalar {
        value: String,
        style: ScalarStyle,
        tag: Option<String>,
        line: usize,
    },
    Seq {
        items: Vec<Rc<Raw>>,
        tag: Option<String>,
        line: usize,
    },
    Map {
        pairs: Vec<(Rc<Raw>, Rc<Raw>)>,
        tag: Option<String>,
        line: usize,
    },
}

impl Raw {
    pub(super) fn line(&self) -> usize {
        match self {
            Raw::Scalar { line, .. } | Raw::Seq { line, .. } | Raw::Map { line, .. } => *line,
        }
    }
}

fn scan_error(path: &Path, e: &ScanError) -> InventoryError {
    syntax(
        Origin {
            file: path.to_path_buf(),
            line: e.marker().line().max(1),
        },
        format!("YAML syntax error: {}", e.info()),
    )
}

/// Events to one document's node tree (`None` for an empty stream).
pub(super) fn compose(path: &Path, text: &str) -> Result<Option<Rc<Raw>>> {
    let mut c = Composer {
        path,
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
    };
    let mut doc = None;
    loop {
        let (ev, span) = c.next()?;
        match ev {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::StreamEnd => return Ok(doc),
            Event::DocumentStart(_) => {
                if doc.is_some() {
                    return Err(syntax(
                        Origin {
                            file: path.to_path_buf(),
                            line: span.start.line(),
                        },
                        "expected a single document in the stream, but found another document",
                    ));
                }
                let (ev, span) = c.next()?;
                doc = Some(c.node(ev, span)?);
            }
            other => {
                return Err(syntax(
                    Origin {
                        file: path.to_path_buf(),
                        line: span.start.line(),
                    },
                    format!("unexpected YAML event {other:?}"),
                ));
            }
        }
    }
}

struct Composer<'a> {
    path: &'a Path,
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    anchors: HashMap<usize, Rc<Raw>>,
}

impl<'a> Composer<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span)> {
        match self.parser.next_event() {
            Some(Ok(x)) => Ok(x),
            Some(Err(e)) => Err(scan_error(self.path, &e)),
            None => Err(syntax(
                Origin {
                    file: self.path.to_path_buf(),
                    line: 1,
                },
                "unexpected end of YAML stream",
            )),
        }
    }

    fn node(&mut self, ev: Event<'a>, span: Span) -> Result<Rc<Raw>> {
        let line = span.start.line().max(1);
        let tag_str = |t: Option<std::borrow::Cow<'_, saphyr_parser::Tag>>| {
            t.map(|t| format!("{}{}", t.handle, t.suffix))
        };
        let (node, anchor) = match ev {
            Event::Alias(id) => {
                return self.anchors.get(&id).cloned().ok_or_else(|| {
                    syntax(
                        Origin {
                            file: self.path.to_path_buf(),
                            line,
                        },
                        "found undefined (or recursive) alias",
                    )
                });
            }
            Event::Scalar(value, style, anchor, tag) => (
                Raw::Scalar {
                    value: value.into_owned(),
                    style,
                    tag: tag_str(tag),
                    line,
                },
                anchor,
            ),
            Event::SequenceStart(anchor, tag) => {
                let mut items = Vec::new();
                loop {
                    let (ev, span) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(ev, span)?);
                }
                (
                    Raw::Seq {
                        items,
                        tag: tag_str(tag),
                        line,
                    },
                    anchor,
                )
            }
            Event::MappingStart(anchor, tag) => {
                let mut pairs = Vec::new();
                loop {
                    let (ev, span) = self.next()?;
                    if matches!(ev, Event::MappingEnd) {
                        break;
                    }
                    let k = self.node(ev, span)?;
                    let (ev, span) = self.next()?;
                    let v = self.node(ev, span)?;
                    pairs.push((k, v));
                }
                (
                    Raw::Map {
                        pairs,
                        tag: tag_str(tag),
                        line,
                    },
                    anchor,
                )
            }
            other => {
                return Err(syntax(
                    Origin {
                        file: self.path.to_path_buf(),
                        line,
                    },
                    format!("unexpected YAML event {other:?}"),
                ));
            }
        };
        let node = Rc::new(node);
        if anchor > 0 {
            self.anchors.insert(anchor, Rc::clone(&node));
        }
        Ok(node)
    }
}
