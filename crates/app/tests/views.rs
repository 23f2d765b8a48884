//! The team view built from events the real commands write.

mod support;

use tahc_app::api_key;
use tahc_events::{CustomFieldType, Role};
use tahc_projections::{Projection, Team, TeamProjector, Views};
use tempfile::TempDir;

use support::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_authenticate_until_rotated_or_deactivated() {
    let world = World::new().await;
    let c = &world.commands;
    let dir = TempDir::new().unwrap();
    let views = Views::open(dir.path()).unwrap();
    let projection = Projection::new(TeamProjector, &views).unwrap();
    let issued = c
        .add_agent(
            &world.team.admin,
            "Lin".into(),
            "lin@acme.example".into(),
            Role::Agent,
        )
        .await
        .unwrap();
    projection.catch_up(&**c.aggregates().log()).await.unwrap();
    let team = Team::new(projection.view().clone());
    let (workspace, agent) = team
        .authenticate(&api_key::hash(&issued.api_key))
        .unwrap()
        .unwrap();
    assert_eq!(
        (workspace, agent.id, agent.role),
        (world.workspace_id, issued.agent_id, Role::Agent)
    );
    assert!(
        team.authenticate(&api_key::hash("tahc_not-a-key"))
            .unwrap()
            .is_none()
    );

    let rotated = c
        .rotate_key(&world.team.admin, issued.agent_id)
        .await
        .unwrap();
    projection.catch_up(&**c.aggregates().log()).await.unwrap();
    assert!(
        team.authenticate(&api_key::hash(&issued.api_key))
            .unwrap()
            .is_none(),
        "the old key stopped"
    );
    assert!(
        team.authenticate(&api_key::hash(&rotated.api_key))
            .unwrap()
            .is_some()
    );

    c.deactivate_agent(&world.team.admin, issued.agent_id)
        .await
        .unwrap();
    projection.catch_up(&**c.aggregates().log()).await.unwrap();
    assert!(
        team.authenticate(&api_key::hash(&rotated.api_key))
            .unwrap()
            .is_none(),
        "deactivated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workspace_record_follows_settings_fields_and_rules() {
    let world = World::new().await;
    let c = &world.commands;
    let dir = TempDir::new().unwrap();
    let projection = Projection::new(TeamProjector, &Views::open(dir.path()).unwrap()).unwrap();
    c.update_settings(&world.team.admin, Some(0.75), Some(false))
        .await
        .unwrap();
    c.define_custom_field(
        &world.team.admin,
        "plan".into(),
        "Plan".into(),
        CustomFieldType::Text,
    )
    .await
    .unwrap();
    projection.catch_up(&**c.aggregates().log()).await.unwrap();
    let workspace = Team::new(projection.view().clone())
        .workspace(world.workspace_id)
        .unwrap()
        .unwrap();
    assert_eq!(
        (workspace.ai_confidence_threshold, workspace.ai_enabled),
        (0.75, false)
    );
    assert_eq!(
        workspace.custom_fields["plan"].field_type,
        CustomFieldType::Text
    );
    assert_eq!(workspace.agents.len(), 4, "admin, agent, bot, auditor");
    assert_eq!(workspace.name, "Acme");
}
