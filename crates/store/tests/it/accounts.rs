//! Accounts as the command line manages them: users, their sessions, organizations.

use errhound_domain::Role;
use errhound_store::expired::{self, Expiring};
use errhound_store::{StoreError, orgs, projects, registrations, sessions, users};
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
        assert_eq!(
            users::set_password(&mut c, b.id, "h2").await.unwrap(),
            Some(0)
        );
        assert_eq!(
            users::set_active(&mut c, a.id, false).await.unwrap(),
            Some(0)
        );
        assert_eq!(users::set_active(&mut c, 9999, false).await.unwrap(), None);
        assert_eq!(users::set_password(&mut c, 9999, "h").await.unwrap(), None);
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

fn meta(user_id: Option<i64>) -> sessions::SessionMeta {
    sessions::SessionMeta {
        user_id,
        client_addr: Some("192.0.2.1".into()),
        user_agent: Some("test".into()),
    }
}

#[tokio::test]
async fn a_users_sessions_are_listed_revoked_and_ended_by_their_column_and_others_kept() {
    for t in engines().await {
        let mut tx = t.db.begin().await.unwrap();
        let mut c = tx.conn();
        let mine = users::create(&mut c, "s@x.test", "S", Some("h"), false, 1)
            .await
            .unwrap();
        let other = users::create(&mut c, "o@x.test", "O", Some("h"), false, 1)
            .await
            .unwrap();
        for n in 0..30 {
            let uid = if n % 10 == 7 { mine.id } else { other.id };
            let data = format!(r#"{{"uid":{uid},"csrf":"t{n}"}}"#);
            let at = 1000 + n;
            sessions::insert(
                &mut c,
                &format!("s{n}"),
                &data,
                &meta(Some(uid)),
                i64::MAX,
                at,
            )
            .await
            .unwrap();
        }
        sessions::insert(
            &mut c,
            "anonymous",
            r#"{"csrf":"x"}"#,
            &meta(None),
            i64::MAX,
            0,
        )
        .await
        .unwrap();
        // Listed newest use first; an expired one is not listed.
        sessions::insert(&mut c, "old", "{}", &meta(Some(mine.id)), 5, 0)
            .await
            .unwrap();
        let listed = sessions::list_for_user(&mut c, mine.id, 10).await.unwrap();
        let handles: Vec<_> = listed.iter().map(|s| s.handle.clone()).collect();
        assert_eq!(
            handles,
            ["s27", "s17", "s7"].map(sessions::handle),
            "{}",
            t.engine
        );
        assert_eq!(listed[0].created_at, Some(1027), "{}", t.engine);
        assert_eq!(listed[0].client_addr.as_deref(), Some("192.0.2.1"));
        // A use is recorded, and only forwards.
        sessions::touch(&mut c, "s7", 90_000).await.unwrap();
        sessions::touch(&mut c, "s7", 80_000).await.unwrap();
        let loaded = sessions::load(&mut c, "s7", 0).await.unwrap().unwrap();
        assert_eq!(loaded.last_seen_at, Some(90_000), "{}", t.engine);
        assert!(!sessions::needs_touch(Some(90_000), 90_000 + 59_999));
        assert!(sessions::needs_touch(Some(90_000), 90_000 + 60_000));
        // Nobody revokes another user's session.
        let theirs = sessions::handle("s8");
        assert!(!sessions::revoke(&mut c, mine.id, &theirs).await.unwrap());
        assert!(
            sessions::revoke(&mut c, mine.id, &sessions::handle("s17"))
                .await
                .unwrap()
        );
        assert!(sessions::load(&mut c, "s17", 0).await.unwrap().is_none());
        let deleted = sessions::delete_for_user(&mut c, mine.id).await.unwrap();
        assert_eq!(deleted, 2 + 1, "{}", t.engine); // s7, s27 and the expired one
        for gone in ["s7", "s27"] {
            assert!(
                sessions::load(&mut c, gone, 0).await.unwrap().is_none(),
                "{gone} on {}",
                t.engine
            );
        }
        for kept in ["s8", "s29", "anonymous"] {
            assert!(
                sessions::load(&mut c, kept, 0).await.unwrap().is_some(),
                "{kept} on {}",
                t.engine
            );
        }
        // A password change and disabling end the user's sessions; enabling does not.
        sessions::insert(&mut c, "again", "{}", &meta(Some(mine.id)), i64::MAX, 0)
            .await
            .unwrap();
        assert_eq!(
            users::set_password(&mut c, mine.id, "h2").await.unwrap(),
            Some(1)
        );
        sessions::insert(&mut c, "again", "{}", &meta(Some(mine.id)), i64::MAX, 0)
            .await
            .unwrap();
        assert_eq!(
            users::set_active(&mut c, mine.id, true).await.unwrap(),
            Some(0)
        );
        assert_eq!(
            users::set_active(&mut c, mine.id, false).await.unwrap(),
            Some(1)
        );
        assert!(
            sessions::list_for_user(&mut c, mine.id, 0)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            sessions::list_for_user(&mut c, other.id, 0)
                .await
                .unwrap()
                .len(),
            27
        );
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

#[tokio::test]
async fn a_sign_up_link_works_once_within_the_hour_and_expired_ones_are_swept() {
    for t in engines().await {
        let mut conn = t.db.write().await.unwrap();
        let mut c = conn.conn();
        let (id, secret) = registrations::create(&mut c, "New@X.test", "N", 1000)
            .await
            .unwrap();
        let (other, other_secret) = registrations::create(&mut c, "new@x.test", "N", 2000)
            .await
            .unwrap();
        assert!(
            registrations::find_valid(&mut c, id, "wrong", 1001)
                .await
                .unwrap()
                .is_none()
        );
        let expired = 1000 + registrations::VALID_FOR_MS;
        assert!(
            registrations::find_valid(&mut c, id, &secret, expired)
                .await
                .unwrap()
                .is_none()
        );
        let found = registrations::find_valid(&mut c, id, &secret, 1001)
            .await
            .unwrap()
            .expect("a valid link");
        assert_eq!(
            (found.email.as_str(), found.name.as_str()),
            ("new@x.test", "N")
        );
        assert!(registrations::use_up(&mut c, &found, 1002).await.unwrap());
        assert!(
            !registrations::use_up(&mut c, &found, 1003).await.unwrap(),
            "once"
        );
        // Using one uses up every open link of the address.
        assert!(
            registrations::find_valid(&mut c, other, &other_secret, 2001)
                .await
                .unwrap()
                .is_none(),
            "{}",
            t.engine
        );
        assert_eq!(
            expired::delete(
                &mut c,
                Expiring::Registrations,
                1999 + registrations::VALID_FOR_MS,
                10
            )
            .await
            .unwrap(),
            1,
            "{}",
            t.engine
        );
    }
}

#[tokio::test]
async fn the_admin_lists_page_by_id_with_counts_and_memberships() {
    for t in engines().await {
        let mut tx = t.db.begin().await.unwrap();
        let mut c = tx.conn();
        let mut made = Vec::new();
        for n in 0..5 {
            let org = orgs::create(&mut c, &format!("org{n}"), "O", n)
                .await
                .unwrap();
            let user = users::create(&mut c, &format!("u{n}@x.test"), "U", None, false, n)
                .await
                .unwrap();
            orgs::add_member(&mut c, org.id, user.id, Role::Member, n)
                .await
                .unwrap();
            made.push((org, user));
        }
        users::record_login(&mut c, made[1].1.id, 777)
            .await
            .unwrap();
        // Pages of two by id, each continuing after the last id of the one before.
        let first = errhound_store::admin::organizations(&mut c, 0, 2)
            .await
            .unwrap();
        let next = errhound_store::admin::organizations(&mut c, first[1].id, 2)
            .await
            .unwrap();
        let slugs: Vec<_> = first.iter().chain(&next).map(|o| o.slug.as_str()).collect();
        assert_eq!(slugs, ["org0", "org1", "org2", "org3"], "{}", t.engine);
        assert_eq!((first[0].member_count, first[0].project_count), (1, 0));
        let after = made[0].1.id;
        let listed = errhound_store::admin::users(&mut c, after, 2)
            .await
            .unwrap();
        let emails: Vec<_> = listed.iter().map(|u| u.email.as_str()).collect();
        assert_eq!(emails, ["u1@x.test", "u2@x.test"], "{}", t.engine);
        assert_eq!(listed[0].last_login_at, Some(777));
        assert_eq!(listed[1].last_login_at, None);
        let memberships = errhound_store::admin::memberships(&mut c, listed[0].id, listed[1].id)
            .await
            .unwrap();
        assert_eq!(
            memberships,
            [
                (listed[0].id, "org1".to_owned()),
                (listed[1].id, "org2".to_owned())
            ],
            "{}",
            t.engine
        );
    }
}
