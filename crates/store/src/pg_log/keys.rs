//! Subject keys in PostgreSQL, in their own table beside the log: every node
//! reads the same keys, and erasing a subject deletes its key for all of
//! them. The key store is synchronous (the vault opens sealed data inside
//! projections), so a thread of its own, with its own connection, serves it.

use std::sync::mpsc;
use std::thread;

use tokio_postgres::{Client, Config, NoTls};

use crate::subject_keys::{KeyError, SubjectKey, SubjectKeys, parse};

/// Where the key thread sends one request's outcome.
type Reply<T> = mpsc::SyncSender<Result<T, KeyError>>;

/// What a caller asks of the key thread, with where to answer.
enum Request {
    Key(String, Reply<Option<SubjectKey>>),
    KeyOrCreate(String, Reply<SubjectKey>),
    Destroy(Vec<String>, Reply<()>),
    All(Reply<Vec<(String, SubjectKey)>>),
}

/// The subject keys of a [`PgLog`](crate::PgLog)'s database. Clones share
/// one connection; it ends with the last clone.
#[derive(Clone)]
pub struct PgKeys {
    requests: mpsc::Sender<Request>,
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

    /// Sends the request `make` builds and waits for its answer.
    fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> Result<T, KeyError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let gone = || KeyError::Storage("the key store has stopped".into());
        self.requests.send(make(reply)).map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }
}

fn storage(error: &tokio_postgres::Error) -> KeyError {
    KeyError::Storage(error.to_string())
}

/// Answers requests one by one until every [`PgKeys`] is dropped.
fn serve(config: &Config, requests: &mpsc::Receiver<Request>) {
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
    while let Ok(request) = requests.recv() {
        runtime.block_on(async {
            // The connection's driver runs only in here: let it see first
            // whether the database dropped the connection while idle (one
            // turn polls the socket, the next runs the driver).
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
            if client.as_ref().is_none_or(Client::is_closed) {
                client = match config.connect(NoTls).await {
                    Ok((fresh, connection)) => {
                        tokio::spawn(connection);
                        Some(fresh)
                    }
                    Err(error) => {
                        tracing::warn!(%error, "the key store cannot reach the database");
                        None
                    }
                };
            }
            let client = client
                .as_ref()
                .ok_or_else(|| KeyError::Storage("the database is unreachable".into()));
            answer(client, request).await;
        });
    }
}

/// Runs `work` on the connection, if there is one, and sends its outcome.
async fn respond<T>(
    reply: Reply<T>,
    client: Result<&Client, KeyError>,
    work: impl AsyncFnOnce(&Client) -> Result<T, KeyError>,
) {
    let outcome = match client {
        Ok(client) => work(client).await,
        Err(error) => Err(error),
    };
    let _ = reply.send(outcome);
}

async fn answer(client: Result<&Client, KeyError>, request: Request) {
    match request {
        Request::Key(subject, reply) => {
            respond(reply, client, async |c| stored(c, &subject).await).await;
        }
        Request::KeyOrCreate(subject, reply) => {
            respond(reply, client, async |c| {
                let fresh: SubjectKey = rand::random();
                // A node creating the same subject's key at the same moment
                // wins or loses here; the loser reads the winner's key
                // below, in a statement of its own that sees the commit.
                c.execute(
                    "INSERT INTO tahc_subject_keys (subject, key) VALUES ($1, $2)
                     ON CONFLICT (subject) DO NOTHING",
                    &[&subject, &&fresh[..]],
                )
                .await
                .map_err(|e| storage(&e))?;
                stored(c, &subject)
                    .await?
                    .ok_or_else(|| KeyError::Storage("key vanished".into()))
            })
            .await;
        }
        Request::Destroy(subjects, reply) => {
            respond(reply, client, async |c| {
                c.execute(
                    "DELETE FROM tahc_subject_keys WHERE subject = ANY($1)",
                    &[&subjects],
                )
                .await
                .map(|_| ())
                .map_err(|e| storage(&e))
            })
            .await;
        }
        Request::All(reply) => {
            respond(reply, client, async |c| {
                c.query("SELECT subject, key FROM tahc_subject_keys", &[])
                    .await
                    .map_err(|e| storage(&e))?
                    .iter()
                    .map(|row| {
                        let subject: String = row.get(0);
                        let key = parse(&subject, row.get::<_, &[u8]>(1))?;
                        Ok((subject, key))
                    })
                    .collect()
            })
            .await;
        }
    }
}

/// The key of `subject`, if it has one.
async fn stored(client: &Client, subject: &str) -> Result<Option<SubjectKey>, KeyError> {
    client
        .query_opt(
            "SELECT key FROM tahc_subject_keys WHERE subject = $1",
            &[&subject],
        )
        .await
        .map_err(|e| storage(&e))?
        .map(|row| parse(subject, row.get::<_, &[u8]>(0)))
        .transpose()
}

/// Every change is committed (so durable) before it returns.
impl SubjectKeys for PgKeys {
    fn key(&self, subject: &str) -> Result<Option<SubjectKey>, KeyError> {
        self.ask(|reply| Request::Key(subject.to_owned(), reply))
    }

    fn key_or_create(&self, subject: &str) -> Result<SubjectKey, KeyError> {
        self.ask(|reply| Request::KeyOrCreate(subject.to_owned(), reply))
    }

    fn destroy(&self, subjects: &[String]) -> Result<(), KeyError> {
        self.ask(|reply| Request::Destroy(subjects.to_vec(), reply))
    }

    fn all(&self) -> Result<Vec<(String, SubjectKey)>, KeyError> {
        self.ask(Request::All)
    }
}
