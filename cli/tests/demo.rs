//! `liaison demo` as a newcomer runs it: the real binary, its real node processes, and what it
//! prints checked line by line — one naming style for nodes, the delivery trail once,
//! refusals that do not repeat their reason code, the cosignature count explained, and the
//! temporary directory announced, deleted and said to be deleted (with `--keep` named).

use std::process::Command;

/// The demo's node ids, each of which must always be written in full.
const NODES: [(&str, &str); 4] = [
    ("caricc", "central-asia"),
    ("kz-dcu", "central-asia"),
    ("gcc-cic", "gulf"),
    ("om-dcu", "gulf"),
];

/// Whether `line` writes one of the demo's centres without its network (`kz-dcu` alone).
fn short_name(line: &str) -> Option<&'static str> {
    for (centre, network) in NODES {
        let full = format!("{centre}.{network}");
        let mut rest = line;
        while let Some(at) = rest.find(centre) {
            let before = rest[..at].chars().next_back();
            let after = &rest[at..];
            let word_start = !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-');
            if word_start && !after.starts_with(&full) {
                return Some(centre);
            }
            rest = &rest[at + centre.len()..];
        }
    }
    None
}

#[test]
fn the_demo_says_each_thing_once_in_one_naming_style_and_cleans_up_after_saying_so() {
    let out = Command::new(env!("CARGO_BIN_EXE_liaison"))
        .arg("demo")
        .output()
        .expect("run liaison demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();

    // Where it runs, that it is temporary, and how to keep it.
    let first = lines[0];
    assert!(
        first.contains("(a temporary directory, deleted at the end: --keep keeps it)"),
        "{first}"
    );
    let dir = first
        .split(" in ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .expect("the directory on the first line");
    let last = lines.last().expect("output");
    assert!(
        last.starts_with(&format!("Deleted {dir};")) && last.contains("--keep"),
        "{last}"
    );
    assert!(!std::path::Path::new(dir).exists(), "{dir} was deleted");

    // Node ids always in full.
    for line in &lines {
        assert_eq!(short_name(line), None, "a short node name in {line:?}");
    }
    assert!(
        lines.iter().any(|l| l.trim_start().starts_with(
            "route: kz-dcu.central-asia → caricc.central-asia → gcc-cic.gulf → om-dcu.gulf;"
        )),
        "{stdout}"
    );

    // The trail once: when it was sent, then one line per hop.
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.trim_start().starts_with("sent at "))
            .count(),
        1,
        "{stdout}"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.trim_start().starts_with("hop "))
            .count(),
        3,
        "{stdout}"
    );
    assert!(!stdout.contains("log #"), "{stdout}");

    // A refusal names its reason code once.
    let refusals: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.split("refused: ").nth(1))
        .collect();
    assert!(refusals.len() >= 4, "{stdout}");
    for r in refusals {
        let code = r.split([':', ' ']).next().unwrap_or("");
        let words = format!("{}: ", code.replace('-', " "));
        assert!(!r.contains(&words), "{code} restated in {r:?}");
    }

    // What a cosignature count means, and why it varies.
    assert!(
        stdout.contains(
            "a peer cosignature is a peer's signature, as witness, on this node's checkpoint"
        ) && stdout.contains("differs from run to run"),
        "{stdout}"
    );
    // The deconfliction service is said to compare keyed hashes, not to hold nothing else.
    assert!(
        !stdout.contains("which holds only keyed hashes"),
        "{stdout}"
    );
    assert!(stdout.contains("deconfliction service, which compares keyed hashes"));
}

#[test]
fn short_names_are_told_from_full_ones() {
    assert_eq!(
        short_name("route: kz-dcu → caricc.central-asia"),
        Some("kz-dcu")
    );
    assert_eq!(short_name("kz-dcu.central-asia's officer"), None);
    assert_eq!(
        short_name("caricc.central-asia opens CARICC-2026-4EF3"),
        None
    );
    assert_eq!(short_name("the gcc-cic, alone"), Some("gcc-cic"));
}
