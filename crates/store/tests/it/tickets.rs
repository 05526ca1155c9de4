//! Tickets linked to issues on both engines: one per plugin per issue (linking again replaces),
//! the `create_issue` activity of each link, the links of a page of issues in one call,
//! unlinking, and a merge keeping the survivor's own link per plugin.

use errhound_store::activity;
use errhound_store::ingest::write_batch;
use errhound_store::tickets::{self, LinkActivity, TicketLink};
use errhound_store::{Db, users, workflow};
use errhound_test_utils::engines;

use crate::fixtures::{event, setup};

const T: i64 = 1_800_000_000_000;

fn ticket(issue_id: i64, plugin_id: &str, key: &str, at: i64) -> TicketLink {
    TicketLink {
        issue_id,
        plugin_id: plugin_id.to_owned(),
        key: key.to_owned(),
        url: format!("https://jira.example/browse/{key}"),
        created_at: at,
    }
}

async fn link(db: &Db, link: &TicketLink, user_id: i64, title: Option<&str>) {
    let mut tx = db.begin().await.unwrap();
    let by = LinkActivity {
        user_id,
        provider: "Jira",
        title,
    };
    tickets::link(&mut tx, link, &by).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn one_ticket_per_plugin_per_issue_relinking_replaces_and_merges_keep_the_survivors() {
    for t in engines().await {
        let project_id = setup(&t.db).await.project_id;
        let mut tx = t.db.begin().await.unwrap();
        write_batch(
            &mut tx,
            vec![
                event(project_id, 1, &["a"], T),
                event(project_id, 2, &["b"], T),
                event(project_id, 3, &["c"], T),
            ],
            T,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let mut conn = t.db.write().await.unwrap();
        let user = users::create(&mut conn.conn(), "ann@acme.test", "", None, false, 1)
            .await
            .unwrap()
            .id;
        let mut ids = Vec::new();
        for n in 1..=3u32 {
            let stored =
                errhound_store::events::find(&mut conn.conn(), project_id, &format!("{n:032x}"))
                    .await
                    .unwrap()
                    .unwrap();
            ids.push(stored.issue_id);
        }
        drop(conn);
        let (a, b, c) = (ids[0], ids[1], ids[2]);

        link(
            &t.db,
            &ticket(a, "jira", "OPS-1", T),
            user,
            Some("KeyError"),
        )
        .await;
        link(&t.db, &ticket(a, "jira", "OPS-2", T + 1), user, None).await;
        link(&t.db, &ticket(a, "tracker", "T-9", T + 2), user, None).await;
        link(&t.db, &ticket(b, "jira", "OPS-3", T + 3), user, None).await;

        let mut conn = t.db.read_latest().await.unwrap();
        let links = tickets::of_issues(&mut conn.conn(), &[a, b, c])
            .await
            .unwrap();
        assert_eq!(
            links[&a],
            [
                ticket(a, "jira", "OPS-2", T + 1),
                ticket(a, "tracker", "T-9", T + 2)
            ],
            "relinking through a plugin replaces its link: {}",
            t.engine
        );
        assert_eq!(links[&b], [ticket(b, "jira", "OPS-3", T + 3)]);
        assert!(!links.contains_key(&c), "{}", t.engine);

        // Each link is in the timeline, with Sentry's create_issue data.
        let timeline = activity::timeline(&mut conn.conn(), a, 10).await.unwrap();
        let created: Vec<_> = timeline
            .iter()
            .filter(|e| e.kind == "create_issue")
            .collect();
        assert_eq!(created.len(), 3, "{}", t.engine);
        let first = created.last().unwrap();
        assert_eq!(first.data["label"], "OPS-1");
        assert_eq!(first.data["provider"], "Jira");
        assert_eq!(first.data["title"], "KeyError");
        assert_eq!(first.data["location"], "https://jira.example/browse/OPS-1");
        assert!(
            created[0].data.get("title").is_none(),
            "a link has no title"
        );
        drop(conn);

        // Unlinking removes one plugin's link, once.
        let mut conn = t.db.write().await.unwrap();
        let removed = tickets::unlink(&mut conn.conn(), a, "tracker")
            .await
            .unwrap();
        assert_eq!(removed, Some(ticket(a, "tracker", "T-9", T + 2)));
        assert_eq!(
            tickets::unlink(&mut conn.conn(), a, "tracker")
                .await
                .unwrap(),
            None
        );
        drop(conn);

        // b and c merge into a (most events first, then the highest id: give a more events).
        let mut tx = t.db.begin().await.unwrap();
        write_batch(&mut tx, vec![event(project_id, 4, &["a"], T)], T)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        link(&t.db, &ticket(c, "tracker", "T-1", T + 4), user, None).await;
        let mut tx = t.db.begin().await.unwrap();
        let merged = workflow::merge(&mut tx, &[a, b, c], Some(user), T + 5)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(merged.parent, a, "{}", t.engine);
        let mut conn = t.db.read_latest().await.unwrap();
        let links = tickets::of_issues(&mut conn.conn(), &[a, b, c])
            .await
            .unwrap();
        assert_eq!(
            links[&a],
            [
                ticket(a, "jira", "OPS-2", T + 1),
                ticket(a, "tracker", "T-1", T + 4)
            ],
            "the survivor keeps its own link and takes the ones it lacks: {}",
            t.engine
        );
        assert_eq!(links.len(), 1, "merged issues leave no links behind");
    }
}
