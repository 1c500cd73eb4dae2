//! Every stored counterexample is a regression test: each replay file under
//! `testdata/model-check/` (written by `distsys model-check ... --write-replay FILE`) is replayed
//! on the seeded bug it was found on, where it must break the same property at its last step,
//! and on the correct core, where it must not break anything. A new find becomes a test by
//! writing its file into that directory; nothing else to add.

use distsys_model::replay::{replay_file, Core, ReplayFile, ReplayOutcome};
use std::path::{Path, PathBuf};

fn stored() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/model-check");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_stored_counterexample_still_breaks_its_mutant_and_not_the_correct_core() {
    let files = stored();
    assert!(
        files.len() >= 4,
        "the stored counterexamples are missing: {files:?}"
    );
    let mut protocols = std::collections::BTreeSet::new();
    for path in &files {
        let name = path.display();
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let file = ReplayFile::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            file.mutant.is_some(),
            "{name}: a counterexample of a seeded bug"
        );
        let found = replay_file(&file, Core::AsFound, &mut |_, _, _| {})
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        match &found {
            ReplayOutcome::Violation { step, property } => {
                assert_eq!(*step, file.steps.len(), "{name}: breaks at its last step");
                assert!(
                    property.starts_with(file.property_name()),
                    "{name}: broke {property}, stored {}",
                    file.property
                );
            }
            other => panic!("{name}: no longer reproduces: {other:?}"),
        }
        let correct = replay_file(&file, Core::Correct, &mut |_, _, _| {})
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            !matches!(correct, ReplayOutcome::Violation { .. }),
            "{name}: the correct core breaks too: {correct:?}"
        );
        protocols.insert(file.protocol.clone());
    }
    assert_eq!(
        protocols.into_iter().collect::<Vec<_>>(),
        ["multipaxos", "pbft", "raft"],
        "counterexamples of every modelled protocol are stored"
    );
}

#[test]
fn a_replay_file_of_an_unknown_protocol_is_refused() {
    let text = std::fs::read_to_string(&stored()[0]).expect("a stored file");
    let mut file = ReplayFile::parse(&text).expect("parses");
    file.protocol = "zab".into();
    let e = ReplayFile::parse(&file.to_json()).expect_err("refused");
    assert!(e.contains("zab"), "{e}");
}
