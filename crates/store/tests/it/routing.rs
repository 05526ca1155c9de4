//! Read/write routing: `read_latest()` sees every committed write without queueing behind the
//! writer, and PostgreSQL replicas that are down neither stop the start nor stall reads.

use std::time::Duration;

use errhound_store::query::Query;
use errhound_store::{Db, DbOptions, sessions};
use errhound_test_utils::{engines, postgres};

/// Far below every acquire timeout the old code waited out (10 s for a replica, 60 s for
/// SQLite's writer); a bound, not a benchmark.
const BOUND: Duration = Duration::from_secs(5);

#[tokio::test]
async fn read_latest_sees_the_last_commit_while_a_write_transaction_is_open() {
    for t in engines().await {
        let mut conn = t.db.write().await.unwrap();
        sessions::save(
            &mut conn.conn(),
            "s1",
            "{}",
            &Default::default(),
            i64::MAX,
            0,
        )
        .await
        .unwrap();
        drop(conn);
        // An ingest batch holding the writer (SQLite: the only write connection).
        let tx = t.db.begin().await.unwrap();
        let loaded = tokio::time::timeout(BOUND, async {
            let mut conn = t.db.read_latest().await.unwrap();
            sessions::load(&mut conn.conn(), "s1", 0).await.unwrap()
        })
        .await
        .unwrap_or_else(|_| panic!("{}: read_latest waited for the writer", t.engine));
        assert!(loaded.is_some(), "{}", t.engine);
        drop(tx);
    }
}

#[derive(sqlx::FromRow)]
struct Name {
    value: String,
}

/// The `application_name` of the connection, which tells the replica pools from the primary.
async fn answered_by(conn: &mut errhound_store::PoolConn) -> String {
    Query::new("SELECT current_setting('application_name') AS value")
        .fetch_one::<Name>(&mut conn.conn())
        .await
        .unwrap()
        .value
}

async fn connect_with_replica(replica: &str) -> Db {
    let db = tokio::time::timeout(
        BOUND,
        Db::connect(&DbOptions {
            url: postgres::fresh_database().await,
            replica_urls: vec![replica.to_owned()],
            max_connections: 4,
        }),
    )
    .await
    .expect("connect does not wait for the replica")
    .expect("connect succeeds although the replica is down");
    db.migrate().await.unwrap();
    db
}

#[tokio::test]
async fn an_unreachable_replica_neither_stops_the_start_nor_stalls_reads() {
    // Nothing listens on port 1: connections are refused.
    let db = connect_with_replica("postgres://postgres@127.0.0.1:1/x").await;
    for _ in 0..3 {
        let mut conn = tokio::time::timeout(BOUND, db.read())
            .await
            .expect("read() skips the dead replica")
            .unwrap();
        assert_eq!(answered_by(&mut conn).await, "errhound");
    }
    assert_eq!(db.check_replicas().await, 0);
    db.close().await;
}

#[tokio::test]
async fn a_replica_that_never_answers_does_not_stall_reads() {
    // Accepts connections and then says nothing, like a host behind a dropped route.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let db = connect_with_replica(&format!("postgres://postgres@127.0.0.1:{port}/x")).await;
    let up = tokio::time::timeout(BOUND, db.check_replicas())
        .await
        .expect("the health check has its own time limit");
    assert_eq!(up, 0);
    let mut conn = tokio::time::timeout(BOUND, db.read())
        .await
        .expect("read() skips the replica marked down")
        .unwrap();
    assert_eq!(answered_by(&mut conn).await, "errhound");
    drop(conn);
    db.close().await;
    silent.abort();
}

#[tokio::test]
async fn a_live_replica_serves_read_but_never_read_latest() {
    let db = connect_with_replica(&postgres::fresh_database().await).await;
    assert_eq!(db.check_replicas().await, 1);
    let mut conn = db.read().await.unwrap();
    assert_eq!(answered_by(&mut conn).await, "errhound-replica");
    drop(conn);
    let mut conn = db.read_latest().await.unwrap();
    assert_eq!(answered_by(&mut conn).await, "errhound");
    drop(conn);
    db.close().await;
}
