//! Subject keys in PostgreSQL, in their own table beside the log: every node
//! reads the same keys, and erasing a subject deletes its key for all of
//! them. The key store is synchronous (the vault opens sealed data inside
//! projections), so a thread of its own, with its own connection, serves it.

use std::sync::mpsc;
use std::thread;

use tokio_postgres::{Client, Config, NoTls};

use crate::subject_keys::{KeyError, SubjectKey, SubjectKeys};

/// What a caller asks of the key thread.
enum Request {
    Key(String),
    KeyOrCreate(String),
    Destroy(Vec<String>),
}

type Reply = Result<Option<SubjectKey>, KeyError>;

/// The subject keys of a [`PgLog`](crate::PgLog)'s database. Clones share
/// one connection; it ends with the last clone.
#[derive(Clone)]
pub struct PgKeys {
    requests: mpsc::Sender<(Request, mpsc::SyncSender<Reply>)>,
}

impl PgKeys {
    /// Keys in the database `config` connects to (its schema already made by
    /// the log's migrations). Connects on first use and again after a lost
    /// connection.
    pub(crate) fn new(config: Config) -> PgKeys {
        let (requests, received) = mpsc::channel();
        thread::Builder::new()
            .name("tahc-pg-keys".into())
            .spawn(move || serve(&config, &received))
            .expect("spawn the key thread");
        PgKeys { requests }
    }

    fn ask(&self, request: Request) -> Reply {
        let (reply, answer) = mpsc::sync_channel(1);
        let gone = || KeyError::Storage("the key store has stopped".into());
        self.requests.send((request, reply)).map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }
}

fn storage(error: &tokio_postgres::Error) -> KeyError {
    KeyError::Storage(error.to_string())
}

/// Answers requests one by one until every [`PgKeys`] is dropped.
fn serve(config: &Config, requests: &mpsc::Receiver<(Request, mpsc::SyncSender<Reply>)>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "the key thread cannot start a runtime");
            return;
        }
    };
    let mut client: Option<Client> = None;
    while let Ok((request, reply)) = requests.recv() {
        let answer = runtime.block_on(async {
            if client.as_ref().is_none_or(Client::is_closed) {
                let (fresh, connection) = config.connect(NoTls).await.map_err(|e| storage(&e))?;
                tokio::spawn(connection);
                client = Some(fresh);
            }
            let client = client.as_ref().expect("connected above");
            answer(client, request).await.map_err(|e| storage(&e))?
        });
        let _ = reply.send(answer);
    }
}

async fn answer(client: &Client, request: Request) -> Result<Reply, tokio_postgres::Error> {
    let stored = |subject: String| async move {
        let row = client
            .query_opt(
                "SELECT key FROM tahc_subject_keys WHERE subject = $1",
                &[&subject],
            )
            .await?;
        Ok::<_, tokio_postgres::Error>(
            row.map(|row| crate::subject_keys::parse(&subject, row.get::<_, &[u8]>(0))),
        )
    };
    Ok(match request {
        Request::Key(subject) => stored(subject).await?.transpose(),
        Request::KeyOrCreate(subject) => {
            let fresh: SubjectKey = rand::random();
            // A node creating the same subject's key at the same moment
            // wins or loses here; the loser reads the winner's key below,
            // in a statement of its own that sees the winner's commit.
            client
                .execute(
                    "INSERT INTO tahc_subject_keys (subject, key) VALUES ($1, $2)
                     ON CONFLICT (subject) DO NOTHING",
                    &[&subject, &&fresh[..]],
                )
                .await?;
            match stored(subject).await? {
                Some(key) => key.map(Some),
                None => Err(KeyError::Storage("key vanished".into())),
            }
        }
        Request::Destroy(subjects) => {
            client
                .execute(
                    "DELETE FROM tahc_subject_keys WHERE subject = ANY($1)",
                    &[&subjects],
                )
                .await?;
            Ok(None)
        }
    })
}

/// Every change is committed (so durable) before it returns.
impl SubjectKeys for PgKeys {
    fn key(&self, subject: &str) -> Result<Option<SubjectKey>, KeyError> {
        self.ask(Request::Key(subject.to_owned()))
    }

    fn key_or_create(&self, subject: &str) -> Result<SubjectKey, KeyError> {
        self.ask(Request::KeyOrCreate(subject.to_owned()))?
            .ok_or_else(|| KeyError::Storage("key vanished".into()))
    }

    fn destroy(&self, subjects: &[String]) -> Result<(), KeyError> {
        self.ask(Request::Destroy(subjects.to_vec())).map(|_| ())
    }
}
