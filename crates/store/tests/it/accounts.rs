//! Accounts as the command line manages them: users, their sessions, organizations.

use errhound_domain::Role;
use errhound_store::{StoreError, orgs, projects, sessions, users};
use errhound_test_utils::engines;

#[tokio::test]
async fn users_are_listed_and_their_password_and_state_changed() {
    for t in engines().await {
        let mut tx = t.db.begin().await.unwrap();
        let mut c = tx.conn();
        let a = users::create(&mut c, "a@x.test", "A", Some("h1"), true, 10)
            .await
            .unwrap();
        let b = users::create(&mut c, "b@x.test", "B", None, false, 20)
            .await
            .unwrap();
        assert!(users::set_password(&mut c, b.id, "h2").await.unwrap());
        assert!(users::set_active(&mut c, a.id, false).await.unwrap());
        assert!(!users::set_active(&mut c, 9999, false).await.unwrap());
        assert!(!users::set_password(&mut c, 9999, "h").await.unwrap());
        let listed = users::list(&mut c).await.unwrap();
        let summary: Vec<_> = listed
            .iter()
            .map(|u| (u.email.as_str(), u.password_hash.as_deref(), u.is_active))
            .collect();
        assert_eq!(
            summary,
            [
                ("a@x.test", Some("h1"), false),
                ("b@x.test", Some("h2"), true)
            ],
            "{}",
            t.engine
        );
        tx.commit().await.unwrap();
    }
}

#[tokio::test]
async fn a_users_sessions_are_deleted_across_pages_and_others_kept() {
    for t in engines().await {
        let mut conn = t.db.write().await.unwrap();
        let mut c = conn.conn();
        // More sessions than one scan page, the user's spread among them.
        for n in 0..1100 {
            let uid = if n % 100 == 7 { 42 } else { n };
            let data = format!(r#"{{"uid":{uid},"csrf":"t{n}"}}"#);
            sessions::insert(&mut c, &format!("s{n}"), &data, i64::MAX)
                .await
                .unwrap();
        }
        sessions::insert(&mut c, "anonymous", r#"{"csrf":"x"}"#, i64::MAX)
            .await
            .unwrap();
        sessions::insert(&mut c, "garbage", "not json", i64::MAX)
            .await
            .unwrap();
        let deleted = sessions::delete_for_user(&mut c, "uid", 42).await.unwrap();
        assert_eq!(deleted, 11 + 1, "{}", t.engine); // s7, s107, ..., s1007 and s42
        for gone in ["s7", "s507", "s1007", "s42"] {
            assert!(
                sessions::load(&mut c, gone, 0).await.unwrap().is_none(),
                "{gone} on {}",
                t.engine
            );
        }
        for kept in ["s8", "s1099", "anonymous", "garbage"] {
            assert!(
                sessions::load(&mut c, kept, 0).await.unwrap().is_some(),
                "{kept} on {}",
                t.engine
            );
        }
    }
}

#[tokio::test]
async fn organizations_are_listed_with_counts_and_slugs_are_unique() {
    for t in engines().await {
        let mut conn = t.db.write().await.unwrap();
        let mut c = conn.conn();
        let beta = orgs::create(&mut c, "beta", "Beta", 1).await.unwrap();
        orgs::create(&mut c, "alpha", "Alpha", 2).await.unwrap();
        let err = orgs::create(&mut c, "beta", "Again", 3).await.unwrap_err();
        assert!(
            matches!(err, StoreError::AlreadyExists("organization")),
            "{err:?}"
        );
        drop(conn);
        let mut tx = t.db.begin().await.unwrap();
        let mut c = tx.conn();
        let user = users::create(&mut c, "m@x.test", "M", None, false, 1)
            .await
            .unwrap();
        orgs::add_member(&mut c, beta.id, user.id, Role::Admin, 1)
            .await
            .unwrap();
        for slug in ["web", "api"] {
            projects::create(&mut c, beta.id, slug, slug, None, "x", 1)
                .await
                .unwrap();
        }
        let listed: Vec<_> = orgs::list_all(&mut c)
            .await
            .unwrap()
            .into_iter()
            .map(|o| (o.slug, o.member_count, o.project_count))
            .collect();
        assert_eq!(
            listed,
            [("alpha".to_owned(), 0, 0), ("beta".to_owned(), 1, 2)],
            "{}",
            t.engine
        );
        tx.commit().await.unwrap();
    }
}
