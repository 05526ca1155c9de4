use errhound_domain::rate_limit::KeyRateLimit;
use errhound_store::keys::{self, KeyChanges};
use errhound_store::query::Query;
use errhound_store::{StoreError, orgs, projects};
use errhound_test_utils::engines;

use crate::fixtures::setup;

#[tokio::test]
async fn keys_are_created_changed_and_deleted_within_their_project() {
    for t in engines().await {
        let p = setup(&t.db).await.project_id;
        let mut conn = t.db.write().await.unwrap();
        let mut c = conn.conn();
        let org = orgs::create(&mut c, "other", "Other", 1).await.unwrap();
        let other = projects::create(&mut c, org.id, "web", "Web", None, "g", 1)
            .await
            .unwrap();
        let limit = KeyRateLimit::new(10, 60).unwrap();

        let key = keys::create(&mut c, p, "Limited", Some(limit), 5)
            .await
            .unwrap();
        assert_eq!(key.rate_limit, Some(limit), "{}", t.engine);
        assert!(key.is_active);
        assert_eq!(
            projects::find_key(&mut c, &key.public_key).await.unwrap(),
            Some(key.clone()),
            "{}",
            t.engine
        );
        assert_eq!(
            keys::get_by_public_key(&mut c, p, &key.public_key)
                .await
                .unwrap(),
            Some(key.clone())
        );
        assert_eq!(
            keys::get_by_public_key(&mut c, other.id, &key.public_key)
                .await
                .unwrap(),
            None,
            "a key of another project is not found"
        );
        let plain = projects::create_key(&mut c, p, "Plain", 6).await.unwrap();
        assert_eq!(plain.rate_limit, None);
        let listed: Vec<i64> = projects::list_keys(&mut c, p)
            .await
            .unwrap()
            .iter()
            .map(|k| k.id)
            .collect();
        assert_eq!(listed, vec![plain.id, key.id], "newest first");

        // A label change keeps everything else; the limit changes and clears; keys of another
        // project are not touched.
        let renamed = keys::update(
            &mut c,
            p,
            key.id,
            &KeyChanges {
                label: Some("Renamed"),
                ..KeyChanges::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(renamed.label, "Renamed", "{}", t.engine);
        assert_eq!(renamed.rate_limit, Some(limit));
        assert!(renamed.is_active);
        let tighter = KeyRateLimit::new(1, 3600).unwrap();
        let changed = keys::update(
            &mut c,
            p,
            key.id,
            &KeyChanges {
                active: Some(false),
                rate_limit: Some(Some(tighter)),
                ..KeyChanges::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(changed.rate_limit, Some(tighter));
        assert!(!changed.is_active);
        assert_eq!(changed.label, "Renamed");
        let cleared = keys::update(
            &mut c,
            p,
            key.id,
            &KeyChanges {
                rate_limit: Some(None),
                ..KeyChanges::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(cleared.rate_limit, None, "{}", t.engine);
        assert!(!cleared.is_active);
        assert_eq!(
            keys::update(&mut c, other.id, key.id, &KeyChanges::default())
                .await
                .unwrap(),
            None
        );

        assert!(!keys::delete(&mut c, other.id, key.id).await.unwrap());
        assert!(keys::delete(&mut c, p, key.id).await.unwrap());
        assert!(!keys::delete(&mut c, p, key.id).await.unwrap());
        assert_eq!(
            projects::find_key(&mut c, &key.public_key).await.unwrap(),
            None
        );
    }
}

#[tokio::test]
async fn a_half_stored_rate_limit_is_an_invalid_value_not_a_guess() {
    for t in engines().await {
        let p = setup(&t.db).await.project_id;
        let mut conn = t.db.write().await.unwrap();
        let mut c = conn.conn();
        let key = projects::create_key(&mut c, p, "Default", 1).await.unwrap();
        for (count, window) in [(Some(5), None), (Some(0), Some(60))] {
            Query::new(
                "UPDATE project_keys SET rate_limit_count = $1, rate_limit_window = $2 \
                 WHERE id = $3",
            )
            .bind(count)
            .bind(window)
            .bind(key.id)
            .execute(&mut c)
            .await
            .unwrap();
            let read = projects::find_key(&mut c, &key.public_key).await;
            assert!(
                matches!(read, Err(StoreError::InvalidValue(_))),
                "{}: {count:?}/{window:?} read as {read:?}",
                t.engine
            );
        }
    }
}
