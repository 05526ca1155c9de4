use errhound_store::ingest::write_batch;
use errhound_store::issues::{self, IssueFilter, IssueSort, TagFilter};
use errhound_test_utils::engines;

use crate::fixtures::{event, setup};

#[tokio::test]
async fn filters_sorts_and_pages_issues() {
    for t in engines().await {
        let p = setup(&t.db).await.project_id;
        let mut batch = Vec::new();
        for n in 0..30u32 {
            let hash = format!("site{}", n % 10);
            let mut e = event(p, n, &[&hash], 1_000 * i64::from(n));
            e.title = format!("Error in site{} 100%_done", n % 10);
            batch.push(e);
        }
        let mut tx = t.db.begin().await.unwrap();
        write_batch(&mut tx, batch, 0).await.unwrap();
        tx.commit().await.unwrap();

        let mut conn = t.db.read().await.unwrap();
        let mut c = conn.conn();
        let base = IssueFilter {
            project_ids: vec![p],
            ..Default::default()
        };
        // Keyset pages of 4 walk all 10 issues in last-seen order, without overlap.
        let mut seen = Vec::new();
        let mut after = issues::Page::First;
        loop {
            let page = issues::list(&mut c, &base, IssueSort::LastSeen, after, 4)
                .await
                .unwrap();
            if page.is_empty() {
                break;
            }
            let last = page.last().unwrap();
            after = issues::Page::After(last.last_seen, last.id);
            seen.extend(page.into_iter().map(|i| i.last_seen));
        }
        assert_eq!(seen.len(), 10, "{}", t.engine);
        assert!(seen.windows(2).all(|w| w[0] >= w[1]));
        // Paging back from the first row of page 2 gives page 1 again, in list order.
        let page1 = issues::list(&mut c, &base, IssueSort::LastSeen, issues::Page::First, 4)
            .await
            .unwrap();
        let last = page1.last().unwrap();
        let page2 = issues::list(
            &mut c,
            &base,
            IssueSort::LastSeen,
            issues::Page::After(last.last_seen, last.id),
            4,
        )
        .await
        .unwrap();
        let first = &page2[0];
        let back = issues::list(
            &mut c,
            &base,
            IssueSort::LastSeen,
            issues::Page::Before(first.last_seen, first.id),
            4,
        )
        .await
        .unwrap();
        let ids = |l: &[issues::Issue]| l.iter().map(|i| i.id).collect::<Vec<_>>();
        assert_eq!(ids(&back), ids(&page1), "{}", t.engine);

        let text = IssueFilter {
            text: vec!["SITE3".into()],
            ..base.clone()
        };
        assert_eq!(
            issues::list(&mut c, &text, IssueSort::LastSeen, issues::Page::First, 50)
                .await
                .unwrap()
                .len(),
            1
        );
        // LIKE wildcards in user text are literal.
        let wildcard = IssueFilter {
            text: vec!["0%_d".into()],
            ..base.clone()
        };
        assert_eq!(
            issues::list(
                &mut c,
                &wildcard,
                IssueSort::LastSeen,
                issues::Page::First,
                50
            )
            .await
            .unwrap()
            .len(),
            10
        );
        let odd = IssueFilter {
            text: vec!["1%x".into()],
            ..base.clone()
        };
        assert!(
            issues::list(&mut c, &odd, IssueSort::LastSeen, issues::Page::First, 50)
                .await
                .unwrap()
                .is_empty()
        );

        // Every issue has events from users id:0..2; region alternates with n, and each site gets
        // both parities only when n%10 and n have... sites with even n are all "eu".
        let eu = IssueFilter {
            tags: vec![TagFilter {
                key: "region".into(),
                values: vec!["eu".into()],
                negate: false,
            }],
            ..base.clone()
        };
        assert_eq!(
            issues::list(&mut c, &eu, IssueSort::LastSeen, issues::Page::First, 50)
                .await
                .unwrap()
                .len(),
            5
        );
        let not_eu = IssueFilter {
            tags: vec![TagFilter {
                key: "region".into(),
                values: vec!["eu".into()],
                negate: true,
            }],
            ..base.clone()
        };
        assert_eq!(
            issues::list(
                &mut c,
                &not_eu,
                IssueSort::LastSeen,
                issues::Page::First,
                50
            )
            .await
            .unwrap()
            .len(),
            5
        );

        let resolved = IssueFilter {
            statuses: vec![errhound_domain::IssueStatus::Resolved],
            ..base.clone()
        };
        assert!(
            issues::list(
                &mut c,
                &resolved,
                IssueSort::LastSeen,
                issues::Page::First,
                50
            )
            .await
            .unwrap()
            .is_empty()
        );

        let recent = IssueFilter {
            last_seen_after: Some(25_000),
            ..base.clone()
        };
        assert_eq!(
            issues::list(
                &mut c,
                &recent,
                IssueSort::LastSeen,
                issues::Page::First,
                50
            )
            .await
            .unwrap()
            .len(),
            5
        );

        let by_freq = issues::list(&mut c, &base, IssueSort::TimesSeen, issues::Page::First, 50)
            .await
            .unwrap();
        assert!(by_freq.iter().all(|i| i.times_seen == 3));

        let ids: Vec<i64> = by_freq.iter().map(|i| i.id).collect();
        let hours = issues::hourly_counts(&mut c, &ids, 0).await.unwrap();
        assert_eq!(hours.iter().map(|h| h.count).sum::<i64>(), 30);
        // Buckets sum the same hours, per issue, and start on a multiple of the bucket size.
        for bucket_hours in [1, 6, 24] {
            let buckets = issues::bucketed_counts(&mut c, &ids, 0, bucket_hours)
                .await
                .unwrap();
            for id in &ids {
                let of = |rows: &[issues::HourlyCount]| -> i64 {
                    rows.iter()
                        .filter(|r| r.issue_id == *id)
                        .map(|r| r.count)
                        .sum()
                };
                assert_eq!(of(&buckets), of(&hours), "{} {bucket_hours}", t.engine);
            }
            assert!(buckets.iter().all(|b| b.hour % bucket_hours == 0));
            let mut expected: Vec<(i64, i64, i64)> = Vec::new();
            for h in &hours {
                let start = h.hour.div_euclid(bucket_hours) * bucket_hours;
                match expected.last_mut() {
                    Some(last) if last.0 == h.issue_id && last.1 == start => last.2 += h.count,
                    _ => expected.push((h.issue_id, start, h.count)),
                }
            }
            let got: Vec<(i64, i64, i64)> = buckets
                .iter()
                .map(|b| (b.issue_id, b.hour, b.count))
                .collect();
            assert_eq!(got, expected, "{} {bucket_hours}", t.engine);
        }
    }
}

#[tokio::test]
async fn project_options_round_trip() {
    use errhound_store::options;
    for t in engines().await {
        let p = setup(&t.db).await.project_id;
        let mut conn = t.db.write().await.unwrap();
        let mut c = conn.conn();
        options::set(&mut c, p, "b", "2", 1).await.unwrap();
        options::set(&mut c, p, "a", "\"x\"", 1).await.unwrap();
        options::set(&mut c, p, "b", "3", 2).await.unwrap();
        let all = options::list(&mut c, p).await.unwrap();
        let pairs: Vec<(&str, &str)> = all
            .iter()
            .map(|o| (o.key.as_str(), o.value.as_str()))
            .collect();
        assert_eq!(pairs, vec![("a", "\"x\""), ("b", "3")], "{}", t.engine);
        options::remove(&mut c, p, "a").await.unwrap();
        assert_eq!(options::list(&mut c, p).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn tag_distribution_and_keyset_pages_with_ties() {
    use errhound_store::tag_values;
    for t in engines().await {
        let p = setup(&t.db).await.project_id;
        // One issue with 12 events: user id:0..3 (4, 4, 4 events), region eu/us (6/6), level
        // error; and 9 more issues of one event each, all with times_seen 1 (ties).
        let mut batch = Vec::new();
        for n in 0..12u32 {
            batch.push(event(p, n, &["hot"], 1_000 * i64::from(n)));
        }
        for n in 12..21u32 {
            batch.push(event(p, n, &[&format!("tail{n}")], 1_000 * i64::from(n)));
        }
        let mut tx = t.db.begin().await.unwrap();
        write_batch(&mut tx, batch, 0).await.unwrap();
        tx.commit().await.unwrap();
        let mut conn = t.db.read().await.unwrap();
        let mut c = conn.conn();
        let base = IssueFilter {
            project_ids: vec![p],
            ..Default::default()
        };
        let all = issues::list(&mut c, &base, IssueSort::TimesSeen, issues::Page::First, 50)
            .await
            .unwrap();
        assert_eq!(all.len(), 10, "{}", t.engine);
        let hot = all[0].id;
        assert_eq!(all[0].times_seen, 12);

        let tags = tag_values::distribution(&mut c, hot, 2).await.unwrap();
        let keys: Vec<&str> = tags.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(keys, vec!["level", "region", "user"], "{}", t.engine);
        let user = &tags[2];
        assert_eq!((user.total, user.distinct), (12, 3));
        // Ties on the count are broken by value.
        assert_eq!(
            user.top,
            vec![("id:0".to_owned(), 4), ("id:1".to_owned(), 4)],
            "{}",
            t.engine
        );
        assert_eq!(
            tags[1].top,
            vec![("eu".to_owned(), 6), ("us".to_owned(), 6)]
        );
        assert!(
            tag_values::distribution(&mut c, hot, 0)
                .await
                .unwrap()
                .iter()
                .all(|d| d.top.is_empty())
        );

        // Keyset pages through a sort with ties (times_seen 1 for nine issues) visit every
        // issue once, forwards and back.
        for sort in [
            IssueSort::TimesSeen,
            IssueSort::UserCount,
            IssueSort::FirstSeen,
        ] {
            let mut seen: Vec<i64> = Vec::new();
            let mut page = issues::Page::First;
            loop {
                let rows = issues::list(&mut c, &base, sort, page, 3).await.unwrap();
                let Some(last) = rows.last() else { break };
                page = issues::Page::After(sort.key(last), last.id);
                seen.extend(rows.iter().map(|i| i.id));
            }
            let expected: Vec<i64> = issues::list(&mut c, &base, sort, issues::Page::First, 50)
                .await
                .unwrap()
                .iter()
                .map(|i| i.id)
                .collect();
            assert_eq!(seen, expected, "{} {sort:?}", t.engine);
            let boundary = issues::list(&mut c, &base, sort, issues::Page::First, 50)
                .await
                .unwrap()
                .remove(6);
            let before = issues::list(
                &mut c,
                &base,
                sort,
                issues::Page::Before(sort.key(&boundary), boundary.id),
                3,
            )
            .await
            .unwrap();
            let ids: Vec<i64> = before.iter().map(|i| i.id).collect();
            assert_eq!(ids, expected[3..6].to_vec(), "{} {sort:?}", t.engine);
        }
    }
}

#[tokio::test]
async fn a_stored_status_this_version_does_not_know_is_an_error_not_a_guess() {
    for t in engines().await {
        let p = setup(&t.db).await.project_id;
        let mut tx = t.db.begin().await.unwrap();
        write_batch(&mut tx, vec![event(p, 1, &["h"], 1_000)], 0)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let mut conn = t.db.write().await.unwrap();
        let id = issues::list(
            &mut conn.conn(),
            &IssueFilter {
                project_ids: vec![p],
                ..Default::default()
            },
            IssueSort::LastSeen,
            issues::Page::First,
            1,
        )
        .await
        .unwrap()[0]
            .id;
        errhound_store::query::Query::new("UPDATE issues SET status = 'snoozed' WHERE id = $1")
            .bind(id)
            .execute(&mut conn.conn())
            .await
            .unwrap();
        let error = issues::get(&mut conn.conn(), id).await.unwrap_err();
        assert!(
            matches!(error, errhound_store::StoreError::InvalidValue(ref m) if m.contains("snoozed")),
            "{}: {error}",
            t.engine
        );
    }
}
