//! The long help of every command: a paragraph (`long_about`, shown by `--help` under the
//! one-line summary that `-h` shows) and examples (`after_long_help`), referenced from the
//! attributes in `cli.rs`.
//!
//! Every example is a command line that works from the root of a clone of the repository:
//! the quick start's local fleet (`examples/quickstart/`), the example inventories
//! (`inventories/`), and, for the publisher's commands, the files a build leaves
//! (`build/demoapp-amd64`, `build/demoapp-arm64`) and the default key pair
//! (`~/.minisign/minisign.key`, `minisign.pub`). `tests/help.rs` runs every one of them against a
//! scratch copy of that tree; a fleet command on `inventories/` (hosts that do not exist here)
//! runs too, with every host's address replaced by one that refuses connections and the quick
//! start's channel as its source (so it must follow the `stable` channel). Rules for writing
//! them:
//!
//! - one example per `  $ ` line, after a `  # ` line saying what it does;
//! - shell syntax is fine (`~`, quotes, `>`, `&&`): the test runs each line with bash;
//! - each example must work on its own from the fresh tree (hosts at demoapp 1.0.0; for
//!   `rollback`, after one `upgrade`).

/// `--help` of `fleetup` itself, before the list of commands.
pub const ABOUT: &str = "\
Agentless fleet upgrader: verify a signed release once, push it over SSH, swap it in atomically, \
roll back when unhealthy

fleetup upgrades the binary of a running service on many hosts, without an agent. It reads \
your Ansible inventory (-i), selects hosts with an Ansible pattern (--limit), finds the \
release on the channel the hosts follow (fleetup_source, fleetup_channel), verifies its \
signature against the keys they trust (fleetup_public_keys) and downloads it once. Then, over \
SSH (or locally for `ansible_connection: local`), it stages the release beside each binary, \
checks it on the host, keeps the old binary as a backup, swaps the new one in with one atomic \
rename, restarts the service and checks its health, and rolls back by itself when the new \
version is unhealthy. Start with `check`, which changes nothing, then `upgrade`. Every command \
has examples in its --help (`fleetup upgrade --help`); the manual is `fleetup man`.";

/// The exit codes, shown by `-h` and at the end of `--help`.
macro_rules! exit_codes {
    () => {
        "Exit codes: 0 every selected host is at the target (or was already); \
         1 at least one host failed, was unreachable or rolled back, or was skipped because the run stopped; \
         2 nothing was attempted (bad arguments, bad inventory, pattern matched nothing, release not found or not verified, confirmation refused); \
         130, 143, 129 stopped by SIGINT, SIGTERM or SIGHUP (hosts past their swap were finished)."
    };
}

/// `-h` of `fleetup`, after the options.
pub const EXIT_CODES: &str = exit_codes!();

/// `--help` of `fleetup`, after the options.
pub const EXAMPLES: &str = concat!(
    "\
Examples (from the root of a clone of the repository):
  # What an upgrade of the quick start's three local hosts would do
  $ fleetup -i examples/quickstart/inventory.yml check

  # Upgrade them, without asking for confirmation on a terminal
  $ fleetup -i examples/quickstart/inventory.yml upgrade --yes

  # The hosts an Ansible pattern selects, as a group tree
  $ fleetup -i inventories/web-db.ini -l 'prod:!db' inventory --graph

",
    exit_codes!()
);

pub const UPGRADE: &str = "\
Upgrade the selected hosts to a release (the latest on the channel unless --version)

Before touching any host, fleetup reads the inventory, fetches the channel each selected host \
follows, verifies its signature and picks the release; a problem there stops the run (exit 2). \
Then, for each host: probe what it runs (read-only), skip it when it is already at the target \
(`unchanged`), upload the release into a temporary file beside the binary, check its sha256 \
and version on the host, keep the old binary as a backup (a hard link), swap the new one in \
with one atomic rename, re-apply setcap, restart the service (`fleetup_service`) and check \
its health (`fleetup_health_url`); a host whose new version is unhealthy is rolled back by \
itself. \
--serial upgrades in rolling batches with a failure budget, and the hosts that did not end \
upgraded or unchanged are written to a retry file for `--limit @FILE` (docs/rolling.md). On a terminal, \
when the whole inventory is selected, fleetup shows the plan and asks to confirm (--yes \
skips the question).";

pub const UPGRADE_EXAMPLES: &str = "\
Examples:
  # Upgrade the quick start's three hosts to the newest release on their channel
  $ fleetup upgrade -i examples/quickstart/inventory.yml --yes

  # Only the web group, to an exact version, one host at a time after a canary
  $ fleetup upgrade -i examples/quickstart/inventory.yml -l web \\
        --version 1.1.0 --serial 1

  # A real fleet: a canary, then a quarter at a time; stop once 10% have failed
  $ fleetup upgrade -i inventories/web-db.ini --serial 1,25% \\
        --max-fail-percentage 10

  # Retry only the hosts the previous run did not upgrade
  $ fleetup upgrade -i inventories/web-db.ini \\
        --limit @inventories/web-db.ini.retry";

pub const CHECK: &str = "\
Dry run and audit: probe every selected host read-only and show what an upgrade would do

check does everything `upgrade` does before changing anything: it fetches and verifies the \
channel's release, connects to every selected host, and probes it read-only (platform, the \
binary's real path, owner, mode and capabilities, the version it runs, free space, sudo when \
become is set). It prints per host the current version, the target and the action an upgrade \
would take: `upgrade`, `none` (already there), `refuse` (a downgrade), `blocked` (no room, not \
writable, no artifact for its platform), `unreachable` or `failed`, with the reason. Nothing \
is uploaded or changed. It exits 1 when any host would not end upgraded or unchanged, so a \
CI job can gate on it; --output json gives the same table to a script.";

pub const CHECK_EXAMPLES: &str = "\
Examples:
  # Audit the quick start's three hosts
  $ fleetup check -i examples/quickstart/inventory.yml

  # The web hosts except web2, as JSON for a script
  $ fleetup check -i examples/quickstart/inventory.yml -l 'web:!web2' \\
        --output json

  # A real fleet's prod hosts except the database, 200 at a time
  $ fleetup check -i inventories/web-db.ini -l 'prod:!db' --forks 200";

pub const ROLLBACK: &str = "\
Put the backed-up binary back on the selected hosts (and restart where configured)

Every upgrade keeps the binary it replaced beside it, as \
`<name>.fleetup-bak-<version>-<time>` (the newest `fleetup_backups` of them). rollback puts \
back the newest backup whose content differs from the current binary, with the same atomic \
rename as an upgrade (the backup stays a backup), then restarts `fleetup_service` and checks \
`fleetup_health_url` when they are set. A host with no backup fails and is left as it is. \
It takes the same rolling options as upgrade (--serial, --max-fail-percentage, --yes).";

pub const ROLLBACK_EXAMPLES: &str = "\
Examples (after an upgrade):
  # Put demoapp 1.0.0 back on web1 of the quick start
  $ fleetup rollback -i examples/quickstart/inventory.yml -l web1

  # Every host, one at a time, without the confirmation
  $ fleetup rollback -i examples/quickstart/inventory.yml --serial 1 --yes

  # A real fleet's web hosts, as a JUnit report for CI
  $ fleetup rollback -i inventories/web-db.ini -l web --output junit";

pub const RELEASES: &str = "\
List the releases on a channel, newest first (the index's signature is verified)

releases fetches the channel index the selected hosts follow (fleetup_source, \
fleetup_channel), checks its minisign signature against fleetup_public_keys and its expiry, \
and lists its releases with their date and label. --source, --channel and \
--public-key name a channel without an inventory. --download also downloads the artifacts of \
the newest release (or --version) for every platform into the cache, each checked against \
its sha256, so that the upgrade itself does not wait for them. With a `cells+` source (a \
Pydio Cells update server, docs/cells.md) the server is asked what it offers to a host \
(--package, --current-version, --os, --arch).";

pub const RELEASES_EXAMPLES: &str = "\
Examples:
  # What the quick start's channel offers
  $ fleetup releases -i examples/quickstart/inventory.yml

  # The same channel named on the command line, as JSON
  $ fleetup releases --source examples/quickstart/releases --channel stable \\
        --public-key examples/quickstart/minisign.pub --output json

  # Download and verify demoapp 1.1.0 into the cache before an upgrade
  $ fleetup releases -i examples/quickstart/inventory.yml \\
        --download --version 1.1.0";

pub const INVENTORY: &str = "\
Show the selected hosts and their variables, like ansible-inventory

fleetup reads INI and YAML inventories, directories of them, group_vars/ and host_vars/ as \
Ansible does, and inventory prints what it understood: --list the JSON of \
`ansible-inventory --list` (byte for byte the same, so `diff` the two), --graph the group \
tree, --host one host's variables after precedence (group, child group, host, then -e). \
--limit applies as it does to an upgrade, so this is the way to see which hosts a pattern \
selects before running anything on them.";

pub const INVENTORY_EXAMPLES: &str = "\
Examples:
  # Everything fleetup sees in an inventory, as `ansible-inventory --list`
  $ fleetup inventory -i inventories/web-db.ini --list

  # The hosts a pattern selects: the prod hosts, except the database
  $ fleetup inventory -i inventories/web-db.ini -l 'prod:!db' --graph

  # One host's variables after precedence, with an extra variable on top
  $ fleetup inventory -i inventories/web-db.yml -e fleetup_channel=dev \\
        --host db01.example.com";

pub const RELEASE: &str = "\
Publisher side: make a key pair, sign and verify files (minisign format)

A release channel is a directory, served over HTTP(S) or read from disk, that holds an index \
(CHANNEL.json), its minisign signature and the artifacts. `keygen` makes the signing key \
pair once; `publish` adds a release to a channel, copies its artifacts and signs the index \
in one command; `sign` and `verify` work on single files. The files are minisign's, so \
`minisign -V` checks them too. Operators trust the public key with fleetup_public_keys. The \
secret key's password is asked on the terminal, or read from FLEETUP_KEY_PASSWORD.";

pub const RELEASE_EXAMPLES: &str = "\
Examples (from a directory with a build in build/):
  # A password-protected key pair: demoapp.pub for operators, the secret key
  # in ~/.minisign/
  $ fleetup release keygen -p demoapp.pub -s ~/.minisign/demoapp.key

  # Publish demoapp 1.2.0 for two platforms on the stable channel in releases/
  $ fleetup release publish --dir releases --product demoapp --version 1.2.0 \\
        linux/amd64=build/demoapp-amd64 linux/arm64=build/demoapp-arm64

  # Check the quick start's index against its public key, as minisign -V would
  $ fleetup release verify -p examples/quickstart/minisign.pub \\
        examples/quickstart/releases/stable.json";

pub const KEYGEN: &str = "\
Make a signing key pair (minisign format, like `minisign -G`)

Writes the public key (-p, default minisign.pub) and the secret key (-s, default \
~/.minisign/minisign.key, mode 0600), in minisign's formats, and prints the key id and the \
line to put in fleetup_public_keys. The secret key is encrypted with a password, asked twice \
on a terminal or read from FLEETUP_KEY_PASSWORD; -W writes it unencrypted for a CI job that \
keeps it in its secret store. Existing files are never overwritten without --force.";

pub const KEYGEN_EXAMPLES: &str = "\
Examples:
  # A password-protected key pair for the demoapp channel
  $ fleetup release keygen -p demoapp.pub -s ~/.minisign/demoapp.key

  # An unencrypted key pair for a CI job's secret store
  $ fleetup release keygen -W -p ci.pub -s ci.key";

pub const SIGN: &str = "\
Sign files, writing FILE.minisig next to each (like `minisign -S`)

Each file is signed (prehashed, as minisign signs by default) with the secret key (-s, \
default ~/.minisign/minisign.key), and the signature written beside it as FILE.minisig. The \
trusted comment (-t) is signed too; it defaults to the file name and the time. `release \
publish` signs the channel index by itself: use sign for other files, or to re-sign an index \
you edited by hand.";

pub const SIGN_EXAMPLES: &str = "\
Examples:
  # Sign two artifacts with the default key (~/.minisign/minisign.key)
  $ fleetup release sign build/demoapp-amd64 build/demoapp-arm64

  # With a trusted comment of your own
  $ fleetup release sign -t 'demoapp 1.2.0, built by CI' build/demoapp-amd64";

pub const VERIFY: &str = "\
Verify FILE against FILE.minisig (like `minisign -V`)

Checks the signature (-x, default FILE.minisig) with a public key, given as a minisign .pub \
file (-p, default minisign.pub) or as its base64 line (-P RW…), then the signature of its \
trusted comment, and prints that comment. Legacy non-prehashed signatures are refused \
unless --allow-legacy. Exit 0 only when both signatures verify.";

pub const VERIFY_EXAMPLES: &str = "\
Examples:
  # The quick start's channel index, with its public key file
  $ fleetup release verify -p examples/quickstart/minisign.pub \\
        examples/quickstart/releases/stable.json

  # The same, with the key given as its base64 line
  $ fleetup release verify \\
        -P RWREv+GyYhap/F3ncpR6uj4AmXSiGhDldzHeFLU2V9JbZ61/BPIWlUbn \\
        examples/quickstart/releases/stable.json";

pub const PUBLISH: &str = "\
Add a release to a channel index (creating it when needed), copy its artifacts beside it, and \
sign the index: publishing in one command

Copies each artifact (OS/ARCH=FILE, with Go's names: linux/amd64, linux/arm64) into --dir as \
`<product>-<version>-<os>-<arch>`, computes its size and sha256, adds the release to \
`<dir>/<channel>.json` (creating it, or keeping its earlier releases, newest first), sets when \
the index expires (--expires) and signs it. Everything is checked before the password is \
asked for, and an existing index must verify with the key before it is re-signed. Upload the \
directory as it is to the web server that fleetup_source names.";

pub const PUBLISH_EXAMPLES: &str = "\
Examples (with the default key ~/.minisign/minisign.key):
  # Publish demoapp 1.2.0 for amd64 and arm64 on the stable channel in releases/
  $ fleetup release publish --dir releases --product demoapp --version 1.2.0 \\
        linux/amd64=build/demoapp-amd64 linux/arm64=build/demoapp-arm64

  # The same build on a beta channel, with a label; the index valid 30 days
  $ fleetup release publish --dir releases --channel beta --product demoapp \\
        --version 1.2.0 --label 'Faster startup' --expires 30d \\
        linux/amd64=build/demoapp-amd64";

pub const COMPLETIONS: &str = "\
Print a shell completion script: `source <(fleetup completions bash)`

The script completes commands, options and their values (output formats, shells, file \
names) for bash, zsh, fish, elvish or PowerShell. It is generated from fleetup's own command \
line, so it is always in step with the binary that printed it.";

pub const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  # Completion in the current bash
  $ source <(fleetup completions bash)

  # In every new bash
  $ echo 'source <(fleetup completions bash)' >> ~/.bashrc

  # For fish
  $ mkdir -p ~/.config/fish/completions && \\
        fleetup completions fish > ~/.config/fish/completions/fleetup.fish";

pub const MAN: &str = "\
Print the manual page (roff), or write one page per command into a directory

Without --dir, prints fleetup.1 (every command, its options and these examples) on stdout. \
With --dir, writes fleetup.1 and one page per command (fleetup-upgrade.1, \
fleetup-release-publish.1, …) into that directory, creating it, for `man` to find through \
MANPATH.";

pub const MAN_EXAMPLES: &str = "\
Examples:
  # Write the manual page, to read with `man -l fleetup.1`
  $ fleetup man > fleetup.1

  # One page per command (fleetup-upgrade.1, …) in your manual directory
  $ fleetup man --dir ~/.local/share/man/man1";

pub const CONFIG: &str = "\
Show the effective settings (configuration file, FLEETUP_* variables, flags) and where each \
one comes from

Each setting comes from the first of: a flag; a FLEETUP_* environment variable; the \
configuration file, the first found of ./fleetup.toml and $XDG_CONFIG_HOME/fleetup/config.toml \
(~/.config/fleetup/config.toml); the built-in default. config prints every setting with its \
value and that source, so a surprise (a forgotten FLEETUP_FORKS, a fleetup.toml in the \
current directory) is seen before a run. See docs/configuration.md.";

pub const CONFIG_EXAMPLES: &str = "\
Examples:
  # Each setting, its value and where it comes from
  $ fleetup config

  # The same as JSON, for a script
  $ fleetup config --output json

  # A flag beats the environment: forks is 20, from -f
  $ FLEETUP_FORKS=10 fleetup -f 20 config

  # -i replaces the configured inventory, it does not add to it
  $ fleetup -i inventories/web-db.yml config";
