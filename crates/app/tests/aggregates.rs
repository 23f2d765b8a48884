//! Loading aggregates: a remembered state is only a head start; what other
//! writers (another node on the same log) appended since is always folded in.

mod support;

use support::{World, commands_over, other_workspace};
use tahc_app::{AppError, stream};
use tahc_domain::conversation::Conversation;
use tahc_events::{Controller, StreamCategory};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remembered_state_catches_up_with_what_others_appended() {
    let world = World::new().await;
    let here = &world.commands;
    let elsewhere = commands_over(&world.log, world.clock.clone());
    let id = world.conversation_id;
    let conversation = stream(StreamCategory::Conversation, id);

    let taken = here.take_over(&world.team.agent, id).await.unwrap();
    assert_eq!(taken.state.controller, Controller::Human);
    let returned = elsewhere.return_to_ai(&world.team.agent, id).await.unwrap();
    assert_eq!(returned.state.controller, Controller::Ai);

    let loaded = here
        .aggregates()
        .load::<Conversation>(&conversation, world.workspace_id)
        .await
        .unwrap();
    assert_eq!(loaded.state.controller, Controller::Ai, "stale memory");
    let fresh = elsewhere
        .aggregates()
        .load::<Conversation>(&conversation, world.workspace_id)
        .await
        .unwrap();
    assert_eq!(loaded.version, fresh.version);
    assert_eq!(format!("{:?}", loaded.state), format!("{:?}", fresh.state));

    // Taking over again from the stale side works: it folds the tail first.
    let again = here.take_over(&world.team.agent, id).await.unwrap();
    assert_eq!(again.state.controller, Controller::Human);

    // Remembering never leaks a stream into another workspace.
    let stranger = other_workspace(here).await;
    assert!(matches!(
        here.aggregates()
            .load::<Conversation>(&conversation, stranger.workspace_id)
            .await,
        Err(AppError::NotFound { .. })
    ));
}
