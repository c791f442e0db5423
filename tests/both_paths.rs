//! Both transport paths read a stream request the same way: the corpus of
//! the `both_paths` fuzz target (`make fuzz` runs it for longer), checked on
//! every `make test`. The check itself is shared with the fuzz target.

#[path = "../fuzz/differential/both_paths.rs"]
mod both_paths;

/// Every seed of the fuzz corpus gets the same status, headers and error
/// code from the direct path as from axum.
#[test]
fn the_corpus_is_answered_alike_on_both_paths() {
    let app = both_paths::App::new();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus_seed_both_paths");
    let mut taken = 0;
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).expect("the seed corpus") {
        let path = entry.expect("entry").path();
        let data = std::fs::read(&path).expect("a seed");
        seen += 1;
        if both_paths::check(&app, &data) {
            taken += 1;
        }
    }
    assert!(seen >= 10, "the corpus has {seen} seeds");
    // Most seeds are stream requests the direct path takes; a refused
    // target is not taken (hyper refuses it on both paths).
    assert!(
        taken >= seen - 2,
        "only {taken} of {seen} seeds were compared"
    );
}
