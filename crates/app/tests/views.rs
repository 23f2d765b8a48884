//! The team view built from events the real commands write.

mod support;

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
    let projection =
        Projection::new(TeamProjector, c.aggregates().vault().clone(), &views).unwrap();
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
        .authenticate(&c.key_forms(&issued.api_key)[0])
        .unwrap()
        .unwrap();
    assert_eq!(
        (workspace, agent.id, agent.role),
        (world.workspace_id, issued.agent_id, Role::Agent)
    );
    assert!(
        team.authenticate(&c.key_forms("tahc_not-a-key")[0])
            .unwrap()
            .is_none()
    );

    let rotated = c
        .rotate_key(&world.team.admin, issued.agent_id)
        .await
        .unwrap();
    projection.catch_up(&**c.aggregates().log()).await.unwrap();
    assert!(
        team.authenticate(&c.key_forms(&issued.api_key)[0])
            .unwrap()
            .is_none(),
        "the old key stopped"
    );
    assert!(
        team.authenticate(&c.key_forms(&rotated.api_key)[0])
            .unwrap()
            .is_some()
    );

    c.deactivate_agent(&world.team.admin, issued.agent_id)
        .await
        .unwrap();
    projection.catch_up(&**c.aggregates().log()).await.unwrap();
    assert!(
        team.authenticate(&c.key_forms(&rotated.api_key)[0])
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
    let projection = Projection::new(
        TeamProjector,
        c.aggregates().vault().clone(),
        &Views::open(dir.path()).unwrap(),
    )
    .unwrap();
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

mod contacts {
    use super::support::{Processes, World};
    use tahc_projections::{ContactOrder, Contacts, ContactsProjector, Projection, Views, Window};
    use tempfile::TempDir;

    fn names(page: &tahc_projections::Page<tahc_projections::ContactRecord>) -> Vec<String> {
        page.items
            .iter()
            .map(|(_, c)| c.name.clone().unwrap_or_default())
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn contacts_are_searched_by_name_prefix_and_email_without_case_or_accents() {
        let world = World::new().await;
        let c = &world.commands;
        let processes = Processes::new(c);
        for (name, email) in [
            ("Zoë Saldaña", "zoe@films.example"),
            ("Zeno", "zeno@elea.example"),
            ("Ada", "ada@example.com"),
        ] {
            let visitor = c.new_visitor(world.workspace_id).await.unwrap();
            c.start_conversation(&visitor, None, "hi".into())
                .await
                .unwrap();
            c.identify_visitor(&visitor, None, email.into(), Some(name.into()))
                .await
                .unwrap();
        }
        processes.settle().await;
        let dir = TempDir::new().unwrap();
        let projection = Projection::new(
            ContactsProjector,
            c.aggregates().vault().clone(),
            &Views::open(dir.path()).unwrap(),
        )
        .unwrap();
        projection.catch_up(&**c.aggregates().log()).await.unwrap();
        let contacts = Contacts::new(projection.view().clone());
        let ws = world.workspace_id;
        let find = |q: &str| {
            let ids = contacts.search(ws, q).unwrap();
            let page = contacts
                .list(
                    ws,
                    Some(&ids),
                    ContactOrder::Name,
                    false,
                    &Window::default(),
                )
                .unwrap();
            names(&page)
        };
        assert_eq!(find("zoe"), ["Zoë Saldaña"]);
        assert_eq!(find("SALD"), ["Zoë Saldaña"]);
        assert_eq!(find("z"), ["Zeno", "Zoë Saldaña"]);
        assert_eq!(find("zeno@elea.example"), ["Zeno"]);
        assert_eq!(find("zoe films"), ["Zoë Saldaña"]);
        assert!(find("nobody").is_empty());

        let all = contacts
            .list(ws, None, ContactOrder::Name, false, &Window::default())
            .unwrap();
        assert_eq!(names(&all), ["Ada", "Grace", "Zeno", "Zoë Saldaña"]);
        let ada = &all.items[0].1;
        assert_eq!(
            ada.conversations.len(),
            1,
            "the visitor's conversation followed it"
        );
        assert!(ada.last_conversation_at.is_some());
        let page = contacts
            .list(
                ws,
                None,
                ContactOrder::Name,
                false,
                &Window {
                    first: Some(2),
                    after: Some(all.items[1].0.clone()),
                    ..Window::default()
                },
            )
            .unwrap();
        assert_eq!(names(&page), ["Zeno", "Zoë Saldaña"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_erased_contact_keeps_its_record_but_no_personal_data_or_search_words() {
        let world = World::new().await;
        let c = &world.commands;
        c.add_note(&world.team.agent, world.contact_id, "Likes cats".into())
            .await
            .unwrap();
        c.erase_contact(&world.team.admin, world.contact_id)
            .await
            .unwrap();
        let dir = TempDir::new().unwrap();
        let projection = Projection::new(
            ContactsProjector,
            c.aggregates().vault().clone(),
            &Views::open(dir.path()).unwrap(),
        )
        .unwrap();
        projection.catch_up(&**c.aggregates().log()).await.unwrap();
        let contacts = Contacts::new(projection.view().clone());
        let record = contacts.get(world.contact_id).unwrap().unwrap();
        assert!(record.erased);
        assert_eq!((record.name, record.email), (None, None));
        assert!(record.notes.is_empty());
        assert!(
            contacts
                .search(world.workspace_id, "grace")
                .unwrap()
                .is_empty()
        );
        let visitor = contacts.visitor(world.visitor_id).unwrap().unwrap();
        assert_eq!((&visitor.name, &visitor.email), (&None, &None));
        assert!(visitor.display_name().starts_with("Visitor "));
    }
}

mod erasure {
    use super::support::World;
    use tahc_projections::{
        ContactsProjector, ConversationsProjector, Projection, Projector, View, Views,
    };
    use tempfile::TempDir;

    fn dump(view: &View) -> Vec<(Vec<u8>, Vec<u8>)> {
        view.scan([])
            .map(|e| {
                let (k, v) = e.unwrap();
                (k.to_vec(), v.to_vec())
            })
            .collect()
    }

    fn projection<P: Projector>(projector: P, world: &World, dir: &TempDir) -> Projection<P> {
        let vault = world.commands.aggregates().vault().clone();
        Projection::new(projector, vault, &Views::open(dir.path()).unwrap()).unwrap()
    }

    fn holds(view: &View, text: &str) -> bool {
        dump(view).iter().any(|(k, v)| {
            [k, v]
                .iter()
                .any(|b| b.windows(text.len()).any(|w| w == text.as_bytes()))
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn views_scrubbed_by_an_erasure_equal_a_rebuild_of_the_shredded_log_byte_for_byte() {
        let world = World::new().await;
        let c = &world.commands;
        let log = c.aggregates().log().clone();
        let message = tahc_app::SendMessage {
            conversation_id: world.conversation_id,
            body: "my passport number is X123".into(),
            internal: false,
            confidence: None,
            idempotency_key: None,
        };
        c.send_message(&world.visitor, message).await.unwrap();
        let (live_dir, live_contacts_dir) = (TempDir::new().unwrap(), TempDir::new().unwrap());
        let live = projection(ConversationsProjector, &world, &live_dir);
        let live_contacts = projection(ContactsProjector, &world, &live_contacts_dir);
        live.catch_up(&*log).await.unwrap();
        live_contacts.catch_up(&*log).await.unwrap();
        assert!(
            holds(live.view(), "passport"),
            "readable before the erasure"
        );

        c.erase_contact(&world.team.admin, world.contact_id)
            .await
            .unwrap();
        live.catch_up(&*log).await.unwrap();
        live_contacts.catch_up(&*log).await.unwrap();
        assert!(!holds(live.view(), "passport"));

        let (rebuilt_dir, rebuilt_contacts_dir) =
            (TempDir::new().unwrap(), TempDir::new().unwrap());
        let rebuilt = projection(ConversationsProjector, &world, &rebuilt_dir);
        let rebuilt_contacts = projection(ContactsProjector, &world, &rebuilt_contacts_dir);
        rebuilt.catch_up(&*log).await.unwrap();
        rebuilt_contacts.catch_up(&*log).await.unwrap();
        assert_eq!(dump(live.view()), dump(rebuilt.view()));
        assert_eq!(dump(live_contacts.view()), dump(rebuilt_contacts.view()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_teams_edits_of_a_contact_do_not_move_its_last_active_time() {
    let world = World::new().await;
    let c = &world.commands;
    let dir = TempDir::new().unwrap();
    let views = Views::open(dir.path()).unwrap();
    let projection = Projection::new(
        tahc_projections::ContactsProjector,
        c.aggregates().vault().clone(),
        &views,
    )
    .unwrap();
    let contacts = tahc_projections::Contacts::new(projection.view().clone());
    projection.catch_up(&**c.aggregates().log()).await.unwrap();
    let before = contacts.get(world.contact_id).unwrap().unwrap();
    world.clock.advance(chrono::Duration::hours(1));
    c.update_contact(
        &world.team.agent,
        world.contact_id,
        Some("Grace Hopper".into()),
        None,
    )
    .await
    .unwrap();
    projection.catch_up(&**c.aggregates().log()).await.unwrap();
    let after = contacts.get(world.contact_id).unwrap().unwrap();
    assert_eq!(after.name.as_deref(), Some("Grace Hopper"));
    assert_eq!(after.last_active_at, before.last_active_at);
}
