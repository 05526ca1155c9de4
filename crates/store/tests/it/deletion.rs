//! Organizations and projects pending deletion: hidden from every lookup and from ingest at
//! once, their slugs free, their rows removed by `purge_step` in bounded batches, other data
//! untouched.

use errhound_domain::Role;
use errhound_store::deletion::{Purged, purge_step};
use errhound_store::ingest::write_batch;
use errhound_store::query::{Int, Query};
use errhound_store::{Db, orgs, projects, teams, users};
use errhound_test_utils::engines;

use crate::fixtures::{event, setup};

async fn count(db: &Db, sql: &'static str, id: i64) -> i64 {
    let mut conn = db.write().await.unwrap();
    let row: Int = Query::new(sql)
        .bind(id)
        .fetch_one(&mut conn.conn())
        .await
        .unwrap();
    row.value
}

/// Runs `purge_step` (limit 2) until it has nothing left; the steps taken.
async fn purge_all(db: &Db) -> Vec<Purged> {
    let mut steps = Vec::new();
    loop {
        let mut tx = db.begin().await.unwrap();
        let step = purge_step(&mut tx.conn(), 2).await.unwrap();
        tx.commit().await.unwrap();
        if step == Purged::Nothing {
            return steps;
        }
        steps.push(step);
        assert!(steps.len() < 100, "{steps:?}");
    }
}

#[tokio::test]
async fn a_deleted_project_is_hidden_at_once_and_purged_in_batches() {
    for t in engines().await {
        let p = setup(&t.db).await.project_id;
        let mut tx = t.db.begin().await.unwrap();
        let batch = (0..5)
            .map(|n| event(p, n, &[&format!("h{n}")], 1_000))
            .collect();
        write_batch(&mut tx, batch, 1_000).await.unwrap();
        let key = projects::create_key(&mut tx.conn(), p, "Default", 1)
            .await
            .unwrap();
        let org_id = projects::get(&mut tx.conn(), p)
            .await
            .unwrap()
            .unwrap()
            .organization_id;
        let other = projects::create(&mut tx.conn(), org_id, "web", "Web", None, "g", 1)
            .await
            .unwrap();
        write_batch(&mut tx, vec![event(other.id, 9, &["x"], 1_000)], 1_000)
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let mut tx = t.db.begin().await.unwrap();
        let keys = projects::schedule_deletion(&mut tx.conn(), p, 5)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(keys, vec![key.public_key.clone()], "{}", t.engine);
        let mut conn = t.db.write().await.unwrap();
        let mut c = conn.conn();
        assert!(projects::get(&mut c, p).await.unwrap().is_none());
        assert!(
            projects::find_by_slug(&mut c, org_id, "shop")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            projects::find_key(&mut c, &key.public_key)
                .await
                .unwrap()
                .is_none()
        );
        let listed: Vec<String> = projects::list_for_org(&mut c, org_id)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.slug)
            .collect();
        assert_eq!(listed, ["web"]);
        // The slug is free at once.
        let again = projects::create(&mut c, org_id, "shop", "Shop", None, "g", 1)
            .await
            .unwrap();
        drop(conn);

        // Events accepted before the deletion and written after it are dropped.
        let mut tx = t.db.begin().await.unwrap();
        let late = write_batch(&mut tx, vec![event(p, 7, &["late"], 2_000)], 2_000)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!((late.stored, late.discarded), (0, 1), "{}", t.engine);

        let steps = purge_all(&t.db).await;
        assert_eq!(
            steps,
            [
                Purged::Events(2),
                Purged::Events(2),
                Purged::Events(1),
                Purged::Issues(2),
                Purged::Issues(2),
                Purged::Issues(1),
                Purged::Project(p),
            ],
            "{}",
            t.engine
        );
        for sql in [
            "SELECT COUNT(*) AS value FROM projects WHERE id = $1 AND purged_at IS NULL",
            "SELECT COUNT(*) AS value FROM events WHERE project_id = $1",
            "SELECT COUNT(*) AS value FROM issues WHERE project_id = $1",
            "SELECT COUNT(*) AS value FROM project_keys WHERE project_id = $1",
            "SELECT COUNT(*) AS value FROM releases WHERE project_id = $1",
            "SELECT COUNT(*) AS value FROM group_hashes WHERE project_id = $1",
            // Every project starts with the default alert rule.
            "SELECT COUNT(*) AS value FROM alert_rules WHERE project_id = $1",
        ] {
            assert_eq!(count(&t.db, sql, p).await, 0, "{sql} on {}", t.engine);
        }
        let kept = "SELECT COUNT(*) AS value FROM events WHERE project_id = $1";
        assert_eq!(count(&t.db, kept, other.id).await, 1, "{}", t.engine);
        assert_ne!(again.id, p);
    }
}

#[tokio::test]
async fn a_deleted_organization_goes_with_its_projects_members_and_teams() {
    for t in engines().await {
        let p = setup(&t.db).await.project_id;
        let mut tx = t.db.begin().await.unwrap();
        let org_id = projects::get(&mut tx.conn(), p)
            .await
            .unwrap()
            .unwrap()
            .organization_id;
        let user = users::create(&mut tx.conn(), "a@x.test", "A", None, false, 1)
            .await
            .unwrap();
        orgs::add_member(&mut tx.conn(), org_id, user.id, Role::Owner, 1)
            .await
            .unwrap();
        let team = teams::create(&mut tx.conn(), org_id, "ops", "Ops", 1)
            .await
            .unwrap();
        teams::add_project(&mut tx.conn(), team.id, p, 1)
            .await
            .unwrap();
        let key = projects::create_key(&mut tx.conn(), p, "Default", 1)
            .await
            .unwrap();
        write_batch(&mut tx, vec![event(p, 1, &["a"], 1_000)], 1_000)
            .await
            .unwrap();
        let other = orgs::create(&mut tx.conn(), "other", "Other", 1)
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let mut tx = t.db.begin().await.unwrap();
        let keys = orgs::schedule_deletion(&mut tx.conn(), org_id, 5)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(keys, vec![key.public_key.clone()]);
        let mut conn = t.db.write().await.unwrap();
        let mut c = conn.conn();
        assert!(orgs::get(&mut c, org_id).await.unwrap().is_none());
        assert!(orgs::find_by_slug(&mut c, "acme").await.unwrap().is_none());
        assert!(projects::get(&mut c, p).await.unwrap().is_none());
        assert!(
            projects::find_key(&mut c, &key.public_key)
                .await
                .unwrap()
                .is_none()
        );
        let mine = orgs::list_for_user(&mut c, user.id, false).await.unwrap();
        assert!(mine.is_empty(), "{}", t.engine);
        let all: Vec<String> = orgs::list_all(&mut c)
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.slug)
            .collect();
        assert_eq!(all, ["other"], "{}", t.engine);
        drop(conn);

        let steps = purge_all(&t.db).await;
        assert_eq!(
            steps.last(),
            Some(&Purged::Organization(org_id)),
            "{steps:?}"
        );
        for sql in [
            "SELECT COUNT(*) AS value FROM organizations WHERE id = $1 AND purged_at IS NULL",
            "SELECT COUNT(*) AS value FROM organization_members WHERE organization_id = $1",
            "SELECT COUNT(*) AS value FROM teams WHERE organization_id = $1",
            "SELECT COUNT(*) AS value FROM projects WHERE organization_id = $1 \
             AND purged_at IS NULL",
            "SELECT COUNT(*) AS value FROM audit_log WHERE organization_id = $1",
        ] {
            assert_eq!(count(&t.db, sql, org_id).await, 0, "{sql} on {}", t.engine);
        }
        let users_left = "SELECT COUNT(*) AS value FROM users WHERE id = $1";
        assert_eq!(count(&t.db, users_left, user.id).await, 1, "accounts stay");
        let kept = "SELECT COUNT(*) AS value FROM organizations WHERE id = $1";
        assert_eq!(count(&t.db, kept, other.id).await, 1);
        // A later organization and project never get the deleted ones' ids.
        let mut conn = t.db.write().await.unwrap();
        let next = orgs::create(&mut conn.conn(), "acme", "Acme", 9)
            .await
            .unwrap();
        let project = projects::create(&mut conn.conn(), next.id, "shop", "Shop", None, "g", 9)
            .await
            .unwrap();
        assert!(next.id > other.id && project.id > p, "{}", t.engine);
    }
}
