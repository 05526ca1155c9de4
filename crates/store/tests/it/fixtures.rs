use errhound_store::ingest::NewEvent;
use errhound_store::{Db, orgs, payload, projects};

pub struct Setup {
    pub project_id: i64,
}

pub async fn setup(db: &Db) -> Setup {
    let mut conn = db.write().await.unwrap();
    let mut c = conn.conn();
    let org = orgs::create(&mut c, "acme", "Acme", 1).await.unwrap();
    let project = projects::create(
        &mut c,
        org.id,
        "shop",
        "Shop",
        Some("python"),
        "errhound:2026-11",
        1,
    )
    .await
    .unwrap();
    Setup {
        project_id: project.id,
    }
}

pub fn event(project_id: i64, n: u32, hashes: &[&str], timestamp_ms: i64) -> NewEvent {
    let json = format!(r#"{{"event_id":"{n:032x}","message":"event {n}"}}"#);
    NewEvent {
        project_id,
        event_id: format!("{n:032x}"),
        timestamp_ms,
        received_ms: timestamp_ms,
        hashes: hashes.iter().map(|h| (*h).to_owned()).collect(),
        secondary_hashes: vec![],
        level: "error".into(),
        event_type: "error".into(),
        title: format!("KeyError: {n}"),
        culprit: "app in view".into(),
        metadata: r#"{"type":"KeyError"}"#.into(),
        platform: "python".into(),
        logger: None,
        release: Some("shop@1.0".into()),
        tags: vec![
            ("level".into(), "error".into()),
            ("user".into(), format!("id:{}", n % 3)),
            (
                "region".into(),
                if n.is_multiple_of(2) { "eu" } else { "us" }.into(),
            ),
        ],
        payload: payload::compress(json.as_bytes(), None),
    }
}
