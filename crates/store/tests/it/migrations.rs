use errhound_store::schema;
use errhound_test_utils::{postgres, sqlite};

/// Lists what one schema has and the other lacks, for an assertion message.
fn differences<T: PartialEq + std::fmt::Debug>(what: &str, a: &[T], b: &[T]) -> Option<String> {
    let only_a: Vec<_> = a.iter().filter(|x| !b.contains(x)).collect();
    let only_b: Vec<_> = b.iter().filter(|x| !a.contains(x)).collect();
    (!only_a.is_empty() || !only_b.is_empty())
        .then(|| format!("{what}:\n  only in sqlite: {only_a:?}\n  only in postgres: {only_b:?}"))
}

#[tokio::test]
async fn both_engines_have_the_same_schema() {
    let lite = schema::read(&sqlite().await.db).await.unwrap();
    let pg = schema::read(&postgres().await.db).await.unwrap();
    // The introspection itself must see what the migrations built, or an empty comparison
    // would pass: a known table's key, a unique index, a partial index and a foreign key.
    for s in [&lite, &pg] {
        assert!(
            s.primary_keys
                .iter()
                .any(|(t, c)| t == "issues" && c == &["id"]),
            "{s:?}"
        );
        assert!(
            s.indexes.iter().any(|i| i.table == "events" && i.unique),
            "{s:?}"
        );
        assert!(!s.foreign_keys.is_empty(), "{s:?}");
        assert!(s.indexes.len() > 10, "{:?}", s.indexes);
    }
    let problems: Vec<String> = [
        differences("columns", &lite.columns, &pg.columns),
        differences("primary keys", &lite.primary_keys, &pg.primary_keys),
        differences("indexes", &lite.indexes, &pg.indexes),
        differences("foreign keys", &lite.foreign_keys, &pg.foreign_keys),
        differences("CHECK constraints", &lite.checks, &pg.checks),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(
        problems.is_empty(),
        "schemas differ:\n{}",
        problems.join("\n")
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
        let before = schema::read(&t.db).await.unwrap();
        assert!(
            before.columns.iter().any(|c| c.0 == "issues"),
            "{}: the first migration built nothing",
            t.engine
        );
        t.db.migrate().await.unwrap();
        let after = schema::read(&t.db).await.unwrap();
        assert_eq!(
            before, after,
            "{}: a second migration changed the schema",
            t.engine
        );
    }
}
