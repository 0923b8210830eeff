//! Unit tests of the Python literal reader: `literal_eval` and Ansible's conversion of its result.

use super::convert::float_repr;
use super::*;
use serde_json::json;

fn p(text: &str) -> Option<Value> {
    parse(text)
}

#[test]
fn integers_in_python3_syntax() {
    assert_eq!(p("42"), Some(json!(42)));
    assert_eq!(p("-1"), Some(json!(-1)));
    assert_eq!(p("+1"), Some(json!(1)));
    assert_eq!(p("0x1f"), Some(json!(31)));
    assert_eq!(p("0X_1F"), Some(json!(31)));
    assert_eq!(p("0o17"), Some(json!(15)));
    assert_eq!(p("0b101"), Some(json!(5)));
    assert_eq!(p("1_000"), Some(json!(1000)));
    assert_eq!(p("00"), Some(json!(0)));
    assert_eq!(p("0_0"), Some(json!(0)));
    assert_eq!(p("- 7"), Some(json!(-7)));
    assert_eq!(p("-(7)"), Some(json!(-7)));
    // Python 3 refuses a leading zero: Ansible keeps `0755` as the string (checked with
    // ansible-inventory 2.19: `f=0755` in [g:vars] gives "0755").
    assert_eq!(p("0755"), None);
    assert_eq!(p("1__0"), None);
    assert_eq!(p("1_"), None);
    assert_eq!(p("0b12"), None);
    assert_eq!(p("0x"), None);
    assert_eq!(p("12abc"), None);
    // `--1` parses but `literal_eval` refuses a sign on a signed number.
    assert_eq!(p("--1"), None);
    assert_eq!(p("-True"), None);
}

#[test]
fn big_integers() {
    assert_eq!(
        p("0xffffffffffffffff"),
        Some(json!(18_446_744_073_709_551_615_u64))
    );
    assert_eq!(p("-9223372036854775808"), Some(json!(i64::MIN)));
    // Ansible prints the exact integer; serde_json cannot hold it, so fleetup keeps the
    // decimal digits as a string.
    assert_eq!(
        p("123456789012345678901234567890"),
        Some(json!("123456789012345678901234567890"))
    );
    let huge = format!("-0x{}", "f".repeat(40));
    assert_eq!(
        p(&huge),
        Some(json!("-1461501637330902918203684832716283019655932542975"))
    );
}

#[test]
fn floats() {
    assert_eq!(p("1.5"), Some(json!(1.5)));
    assert_eq!(p("1e3"), Some(json!(1000.0)));
    assert_eq!(p(".5"), Some(json!(0.5)));
    assert_eq!(p("1."), Some(json!(1.0)));
    assert_eq!(p("1.e5"), Some(json!(100_000.0)));
    assert_eq!(p("1_0.5e-1_0"), Some(json!(10.5e-10)));
    // Leading zeros are fine in a float.
    assert_eq!(p("0755.5"), Some(json!(755.5)));
    assert_eq!(
        p("-0.0").unwrap().as_f64().unwrap().to_bits(),
        (-0.0f64).to_bits()
    );
    // `inf` and `nan` are names, not literals.
    assert_eq!(p("inf"), None);
    assert_eq!(p("nan"), None);
    assert_eq!(p("1e"), None);
    assert!(eval("1e400").is_err());
}

#[test]
fn complex_numbers_become_their_python_str() {
    // ansible-inventory 2.19 prints these strings for c=1j c2=1+2j c3=-1j.
    assert_eq!(p("1j"), Some(json!("1j")));
    assert_eq!(p("1+2j"), Some(json!("(1+2j)")));
    assert_eq!(p("-1j"), Some(json!("(-0-1j)")));
    assert_eq!(p("(-1)+2j"), Some(json!("(-1+2j)")));
    assert_eq!(p("1-2j"), Some(json!("(1-2j)")));
    assert_eq!(p("-0.0+1j"), Some(json!("1j")));
    assert_eq!(p("1.5e20+2.5j"), Some(json!("(1.5e+20+2.5j)")));
    assert_eq!(p("0755j"), Some(json!("755j")));
    assert_eq!(p("1e16j"), Some(json!("1e+16j")));
    assert_eq!(p("1e400j"), Some(json!("infj")));
    // Not `real ± imaginary`: refused by literal_eval, kept as written.
    assert_eq!(p("1j+1"), None);
    assert_eq!(p("1+2j+3j"), None);
    assert_eq!(p("1 + 2"), None);
    assert_eq!(p("True + 1j"), None);
    assert_eq!(p("1 - -2j"), None);
}

#[test]
fn constants() {
    assert_eq!(p("True"), Some(json!(true)));
    assert_eq!(p("False"), Some(json!(false)));
    assert_eq!(p("None"), Some(Value::Null));
    assert_eq!(p("..."), Some(json!("...")));
    assert_eq!(p("true"), None);
    assert_eq!(p("yes"), None);
}

#[test]
fn strings_and_escapes() {
    assert_eq!(p("'q'"), Some(json!("q")));
    assert_eq!(p(r#""a\"b""#), Some(json!("a\"b")));
    assert_eq!(p(r"'a\nb\t\\'"), Some(json!("a\nb\t\\")));
    assert_eq!(p(r#""\x41\101\u00e9\U0001F600""#), Some(json!("AAé😀")));
    assert_eq!(p(r"'\d'"), Some(json!("\\d")));
    assert_eq!(p(r#"r"\n""#), Some(json!("\\n")));
    assert_eq!(p(r#"u"x""#), Some(json!("x")));
    assert_eq!(p(r#""""tri"ple""""#), Some(json!("tri\"ple")));
    assert_eq!(p("'''a'b'''"), Some(json!("a'b")));
    assert_eq!(p(r#"'a' "b""#), Some(json!("ab")));
    assert_eq!(p("b'ab'"), Some(json!("ab")));
    assert_eq!(p(r"b'\xff'"), Some(json!("?")));
    assert_eq!(p(r"'\ud800'"), Some(json!("?")));
    assert_eq!(p("''"), Some(json!("")));
    assert_eq!(p("'x' # comment"), Some(json!("x")));
    // An f-string is a JoinedStr node: not a literal.
    assert_eq!(p(r#"f"x""#), None);
    assert_eq!(p(r#"'a' b'b'"#), None);
    assert_eq!(p("'unterminated"), None);
    assert_eq!(p(r"'\x4'"), None);
    assert_eq!(p(r"'\N{BULLET}'"), None);
    assert_eq!(p("b'é'"), None);
}

#[test]
fn containers() {
    assert_eq!(p("[1, 2]"), Some(json!([1, 2])));
    assert_eq!(p("[1,]"), Some(json!([1])));
    assert_eq!(p("[]"), Some(json!([])));
    assert_eq!(p("(1, 2)"), Some(json!([1, 2])));
    assert_eq!(p("(1,)"), Some(json!([1])));
    assert_eq!(p("()"), Some(json!([])));
    assert_eq!(p("(1)"), Some(json!(1)));
    assert_eq!(p("[(1, 2)]"), Some(json!([[1, 2]])));
    assert_eq!(p("((1, 2),)"), Some(json!([[1, 2]])));
    // A bare comma list is a tuple (checked: `a=1, 2` in [g:vars] gives [1, 2]).
    assert_eq!(p("1, 2"), Some(json!([1, 2])));
    assert_eq!(p("{'a': 1}"), Some(json!({"a": 1})));
    assert_eq!(p("{}"), Some(json!({})));
    assert_eq!(p("set()"), Some(json!([])));
    assert_eq!(
        p(r#"[1, [2, {"k": (3,)}], ]"#),
        Some(json!([1, [2, {"k": [3]}]]))
    );
    assert_eq!(p("  [ 1 ,\t2 ]  "), Some(json!([1, 2])));
    assert_eq!(p("[1, x]"), None);
    assert_eq!(p("[1, 2"), None);
    assert_eq!(p("[*[1]]"), None);
    assert_eq!(p("set([1])"), None);
    assert_eq!(p("[1][0]"), None);
    assert_eq!(p("1 if True else 2"), None);
    assert_eq!(p(&"[".repeat(201)), None);
    assert_eq!(
        p(&format!("{}1{}", "[".repeat(50), "]".repeat(50))).map(|v| v.is_array()),
        Some(true)
    );
}

#[test]
fn sets_follow_cpython_order_and_equality() {
    // All four checked against ansible-inventory 2.19.
    assert_eq!(p("{3,1,2}"), Some(json!([1, 2, 3])));
    assert_eq!(p("{5, 9, 13, 1, 8}"), Some(json!([1, 5, 8, 9, 13])));
    assert_eq!(p("{-1, -2, 0}"), Some(json!([0, -1, -2])));
    assert_eq!(
        p("{100, 3, 1000, 7, 64}"),
        Some(json!([64, 3, 100, 7, 1000]))
    );
    // 1.0 == 1: the first one stays.
    assert_eq!(p("{1.0, 1}"), Some(json!([1.0])));
    assert_eq!(p("{'b', 'a', 'b'}"), Some(json!(["b", "a"])));
}

#[test]
fn dict_keys_as_python_json_writes_them() {
    // Checked: ansible-inventory prints {"1.5": 1, "2": 4, "null": 2, "true": 3}.
    assert_eq!(
        p("{1.5: 1, None: 2, True: 3, 2: 4}"),
        Some(json!({"1.5": 1, "null": 2, "true": 3, "2": 4}))
    );
    // `True == 1`: one key, the first spelling, the last value.
    assert_eq!(p("{1: 2, True: 3}"), Some(json!({"1": 3})));
    assert_eq!(
        p("{1e20: 1, -0.0: 2}"),
        Some(json!({"1e+20": 1, "-0.0": 2}))
    );
}

#[test]
fn errors_ansible_does_not_survive() {
    // Python raises TypeError, which Ansible's INI plugin does not catch.
    assert!(
        eval("{[1]: 2}")
            .unwrap_err()
            .contains("unhashable type: 'list'")
    );
    assert!(eval("{(1, [2])}").is_err());
    // Complex and Ellipsis keys fail in Ansible too ("not taggable").
    assert!(eval("{1j: 1}").is_err());
    assert!(eval("{...: 1}").is_err());
    // A syntax error wins over an unhashable key, as in Python.
    assert_eq!(eval("{[1]: 2"), Ok(None));
    assert_eq!(parse("{[1]: 2}"), None);
}

#[test]
fn not_literals() {
    for text in [
        "",
        "   ",
        "hello",
        "hello # comment",
        "a=b",
        "x y",
        "1 2",
        "@",
        "1 * 2",
        "1 ** 2",
        "~1",
        "'a'.upper()",
        "\0",
    ] {
        assert_eq!(p(text), None, "{text:?}");
    }
}

#[test]
fn float_repr_matches_python() {
    assert_eq!(float_repr(1.0), "1.0");
    assert_eq!(float_repr(1e16), "1e+16");
    assert_eq!(float_repr(1e15), "1000000000000000.0");
    assert_eq!(float_repr(0.0001), "0.0001");
    assert_eq!(float_repr(0.00001), "1e-05");
    assert_eq!(float_repr(-0.0), "-0.0");
    assert_eq!(float_repr(123.456), "123.456");
    assert_eq!(float_repr(1.5e300), "1.5e+300");
}
