//! Copying a sled log into an empty PostgreSQL log (`tahc migrate`): the
//! records arrive exactly as they were, hash chain included, with every
//! subject key and the shared secrets; a database that is not empty is
//! refused and left as it was.

mod pg_support;

use pg_support::{fresh_schema, url};
use tahc_events::Position;
use tahc_store::conformance::{event, stream};
use tahc_store::{
    EventAppender, EventStore, ExpectedVersion, ImportError, LogReader, PgLog, PgOptions, SledLog,
    verify,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sled_log_arrives_in_postgres_exactly_as_it_was_with_its_keys_and_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let sled = SledLog::open(dir.path()).unwrap();
    for n in 0..2_500 {
        sled.append(
            &stream(&format!("s{}", n % 7)),
            ExpectedVersion::Any,
            vec![event(40 + n % 100)],
        )
        .await
        .unwrap();
    }
    let keys = sled.subject_keys();
    let visitor = keys.key_or_create("visitor-1").unwrap();
    let contact = keys.key_or_create("contact-1").unwrap();
    keys.key_or_create("contact-erased").unwrap();
    keys.destroy(&["contact-erased".into()]).unwrap();

    let (_client, schema) = fresh_schema("tahc_import").await;
    let options = PgOptions {
        schema: Some(schema),
        ..PgOptions::default()
    };
    let pg = PgLog::connect_with(&url(), options).await.unwrap();
    let token = [7u8; 32];
    let imported = pg.import(&sled, &[("token.key", token)]).await.unwrap();
    assert_eq!(imported.events, 2_500);
    assert_eq!(imported.head, Position(2_500));
    assert_eq!(imported.keys, 2);

    assert_eq!(pg.head().await.unwrap(), Position(2_500));
    assert_eq!(
        pg.read_all(Position::START, 5_000).await.unwrap(),
        sled.read_all(Position::START, 5_000).await.unwrap(),
        "every record as it was"
    );
    let verification = verify(&pg).await.unwrap();
    assert!(verification.ok(), "{verification:?}");
    assert_eq!(verification.checked, 2_500);
    let pg_keys = pg.subject_keys();
    assert_eq!(pg_keys.key("visitor-1").unwrap(), Some(visitor));
    assert_eq!(pg_keys.key("contact-1").unwrap(), Some(contact));
    assert_eq!(pg_keys.key("contact-erased").unwrap(), None);
    assert_eq!(pg.shared_secret("token.key").await.unwrap(), Some(token));

    // Appends continue the imported chain.
    let appended = pg
        .append(&stream("s0"), ExpectedVersion::Any, vec![event(10)])
        .await
        .unwrap();
    assert_eq!(appended.first_position, Position(2_501));
    assert!(verify(&pg).await.unwrap().ok());

    // A second import is refused and changes nothing.
    let refused = pg.import(&sled, &[("token.key", [9u8; 32])]).await;
    assert!(
        matches!(
            refused,
            Err(ImportError::NotEmpty {
                head: Position(2_501)
            })
        ),
        "{refused:?}"
    );
    assert_eq!(pg.head().await.unwrap(), Position(2_501));
    assert_eq!(pg.shared_secret("token.key").await.unwrap(), Some(token));
}
