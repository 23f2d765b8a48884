//! Pure decisions of tahc: `decide(&State, Command) -> Result<Vec<Event>, DomainError>`
//! and `evolve(State, &Event) -> State` for conversations, visitors, contacts
//! and workspaces. No I/O, no async: everything here is a function over plain
//! data. The rules arrive with the domain issue; the crate exists now so that
//! the dependency direction of the layout holds from the start.
