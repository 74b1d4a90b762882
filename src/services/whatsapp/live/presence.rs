//! Who is viewing or typing in which conversation, kept in this process's memory: presence is a hint for people
//! working side by side, so it expires on its own (a page sends heartbeats) and is never written to the database.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// How long a "viewing" heartbeat counts (the page repeats it every 15 seconds while a conversation is open).
pub const VIEWING_FOR: Duration = Duration::from_secs(30);
/// How long a "typing" heartbeat counts (the composer repeats it every few seconds while keys are pressed).
pub const TYPING_FOR: Duration = Duration::from_secs(6);

/// Who else is in a conversation, as one member's stream shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PresenceView {
    pub conversation_id: i64,
    /// Names of the members viewing it, not typing.
    pub viewing: Vec<String>,
    /// Names of the members typing a reply.
    pub typing: Vec<String>,
}

struct Viewer {
    name: String,
    seen_until: Instant,
    typing_until: Option<Instant>,
}

/// The registry: (workspace, conversation) → user → what they do there.
#[derive(Default)]
pub struct Presence {
    rooms: Mutex<HashMap<(i64, i64), HashMap<i64, Viewer>>>,
    /// Bumped on every change, so the streams look again at once.
    changed: watch::Sender<u64>,
    /// When each (workspace, member) was last recorded as online, so heartbeats and open streams write
    /// `last_seen_at` at most once per interval instead of taking the write lock every few seconds.
    recorded: Mutex<HashMap<(i64, i64), Instant>>,
}

impl Presence {
    /// Changes whenever someone arrives, types or leaves a conversation.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// A heartbeat: `user` views the conversation (and is typing when `typing`). A member views one conversation
    /// at a time, so this ends their presence anywhere else in the workspace.
    pub fn beat(&self, workspace_id: i64, conversation_id: i64, user_id: i64, name: &str, typing: bool) {
        let now = Instant::now();
        if let Ok(mut rooms) = self.rooms.lock() {
            for ((workspace, conversation), viewers) in rooms.iter_mut() {
                if *workspace == workspace_id && *conversation != conversation_id {
                    viewers.remove(&user_id);
                }
            }
            rooms.retain(|_, viewers| !viewers.is_empty());
            let room = rooms.entry((workspace_id, conversation_id)).or_default();
            room.insert(
                user_id,
                Viewer {
                    name: name.to_owned(),
                    seen_until: now + VIEWING_FOR,
                    typing_until: typing.then_some(now + TYPING_FOR),
                },
            );
        }
        self.changed.send_modify(|generation| *generation = generation.wrapping_add(1));
    }

    /// Whether the member's "online" mark is due for a write (at most one per `every`); notes it as written.
    pub fn online_due(&self, workspace_id: i64, user_id: i64, every: Duration) -> bool {
        let now = Instant::now();
        let Ok(mut recorded) = self.recorded.lock() else { return true };
        recorded.retain(|_, at| now.duration_since(*at) < every);
        match recorded.entry((workspace_id, user_id)) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(now);
                true
            }
        }
    }

    /// What `user_id` should see now: for each conversation they view, who else is there.
    pub fn seen_by(&self, workspace_id: i64, user_id: i64) -> Vec<PresenceView> {
        let now = Instant::now();
        let Ok(mut rooms) = self.rooms.lock() else { return Vec::new() };
        for viewers in rooms.values_mut() {
            viewers.retain(|_, v| v.seen_until > now);
        }
        rooms.retain(|_, viewers| !viewers.is_empty());
        let mut views: Vec<PresenceView> = rooms
            .iter()
            .filter(|((workspace, _), viewers)| *workspace == workspace_id && viewers.contains_key(&user_id))
            .map(|((_, conversation), viewers)| {
                let mut view = PresenceView { conversation_id: *conversation, ..PresenceView::default() };
                for viewer in viewers.iter().filter(|(other, _)| **other != user_id).map(|(_, viewer)| viewer) {
                    if viewer.typing_until.is_some_and(|until| until > now) {
                        view.typing.push(viewer.name.clone());
                    } else {
                        view.viewing.push(viewer.name.clone());
                    }
                }
                view.viewing.sort();
                view.typing.sort();
                view
            })
            .collect();
        views.sort_by_key(|v| v.conversation_id);
        views
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_see_the_others_never_themselves() {
        let presence = Presence::default();
        presence.beat(1, 10, 100, "Ana", false);
        assert_eq!(presence.seen_by(1, 100), vec![PresenceView { conversation_id: 10, ..Default::default() }]);
        presence.beat(1, 10, 200, "Ben", true);
        let ana = presence.seen_by(1, 100);
        assert_eq!(ana[0].typing, ["Ben"]);
        assert!(ana[0].viewing.is_empty());
        assert_eq!(presence.seen_by(1, 200)[0].viewing, ["Ana"]);
        assert!(presence.seen_by(2, 100).is_empty(), "another workspace sees nothing");
        // Ben opens another conversation: he leaves the first.
        presence.beat(1, 11, 200, "Ben", false);
        assert_eq!(presence.seen_by(1, 100), vec![PresenceView { conversation_id: 10, ..Default::default() }]);
    }

    #[test]
    fn the_online_mark_is_written_once_per_interval() {
        let presence = Presence::default();
        let every = Duration::from_secs(30);
        assert!(presence.online_due(1, 100, every));
        assert!(!presence.online_due(1, 100, every), "again within the interval");
        assert!(presence.online_due(1, 200, every), "another member");
        assert!(presence.online_due(2, 100, every), "another workspace");
        assert!(presence.online_due(1, 100, Duration::ZERO), "due once the interval has passed");
    }
}
