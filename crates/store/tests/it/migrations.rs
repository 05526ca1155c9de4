use errhound_test_utils::{postgres, sqlite};

#[tokio::test]
async fn both_engines_have_the_same_schema() {
    let lite = sqlite().await;
    let pg = postgres().await;
    let a = lite.db.schema_fingerprint().await.unwrap();
    let b = pg.db.schema_fingerprint().await.unwrap();
    assert!(!a.is_empty());
    let only_sqlite: Vec<_> = a.iter().filter(|c| !b.contains(c)).collect();
    let only_postgres: Vec<_> = b.iter().filter(|c| !a.contains(c)).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "schemas differ:\n  only in sqlite: {only_sqlite:?}\n  only in postgres: {only_postgres:?}"
    );
}

#[test]
fn both_engines_have_the_same_migration_versions() {
    let list = |engine: &str| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(engine);
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(list("sqlite"), list("postgres"));
}

#[tokio::test]
async fn migrating_twice_is_a_no_op() {
    for t in errhound_test_utils::engines().await {
        t.db.migrate().await.unwrap();
    }
}
