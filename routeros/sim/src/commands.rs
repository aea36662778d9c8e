//! Dispatch of a logged-in command (everything but `/login`, `/quit` and `/cancel`, which
//! change the session and live in `session`).
//!
//! One-shot commands answer with their whole reply at once (`!re`… then `!trap`s, optional
//! `!empty`, and always a final `!done`); streaming commands (`listen`, `print =follow=` /
//! `=follow-only=`, `monitor-traffic` without `=once=`) become a [`StreamSpec`] that the
//! session runs as a task until `/cancel`.

use std::sync::Arc;
use std::time::Duration;

use centinela_routeros::codec::{Reply, ReplyKind, Request};
use centinela_routeros::values;
use tokio::sync::broadcast;

use crate::item::{Item, Proplist};
use crate::menus::{self, Menu, Resolved, Verb};
use crate::query::Query;
use crate::router::{LogEntry, Router};

/// Shortest `monitor-traffic` interval accepted (keeps a typo from flooding the client).
const MIN_INTERVAL: Duration = Duration::from_millis(20);

/// What the session should do with a command.
#[derive(Debug)]
pub(crate) enum Action {
    /// Send these replies (untagged; the session adds the request's tag).
    Reply(Vec<Reply>),
    /// Start a streaming command.
    Stream(StreamSpec),
}

/// A streaming command.
#[derive(Debug)]
pub(crate) enum StreamSpec {
    /// `backlog` (the buffer at the time of the command, for `=follow=`) then every new entry
    /// from `entries`, those matching `query`. Subscribed when the command is dispatched, so a
    /// line logged after the command is never missed.
    Log {
        backlog: Vec<Arc<LogEntry>>,
        entries: broadcast::Receiver<Arc<LogEntry>>,
        query: Query,
        proplist: Proplist,
    },
    /// `monitor-traffic` samples of these links every `interval`, numbered by `.section`.
    Monitor {
        links: Vec<usize>,
        interval: Duration,
        proplist: Proplist,
    },
    /// These rows once, then nothing until cancelled (`listen`/`follow` on a static menu).
    Static { rows: Vec<Reply> },
}

/// `!trap` with an optional category, attributes in the router's order.
pub(crate) fn trap(category: Option<u8>, message: &str) -> Reply {
    let mut reply = Reply::done();
    reply.kind = ReplyKind::Trap;
    if let Some(category) = category {
        reply = reply.attr("category", category.to_string());
    }
    reply.attr("message", message)
}

/// `!re` with the projected properties of `item`.
pub(crate) fn re(item: &Item, proplist: &Proplist) -> Reply {
    proplist
        .project(item)
        .into_iter()
        .fold(Reply::re(), |reply, (k, v)| reply.attr(k, v))
}

/// Decides what a command does.
pub(crate) fn dispatch(router: &Router, emit_empty: bool, request: &Request) -> Action {
    let command = String::from_utf8_lossy(&request.command);
    match menus::resolve(&command) {
        Resolved::UnknownSegment(segment) => Action::Reply(vec![
            trap(
                Some(0),
                &format!("no such command or directory ({segment})"),
            ),
            trap(None, "no such command prefix"),
            Reply::done(),
        ]),
        Resolved::UnknownVerb => Action::Reply(vec![trap(None, "no such command"), Reply::done()]),
        Resolved::Command(Menu::Interface, Verb::MonitorTraffic) => monitor(router, request),
        Resolved::Command(menu, verb) => {
            let query = match Query::parse(&request.queries) {
                Ok(query) => query,
                Err(error) => {
                    return Action::Reply(vec![trap(Some(1), &error.to_string()), Reply::done()]);
                }
            };
            let proplist = Proplist::parse(request.get(".proplist"));
            let has = |flag: &str| request.get(flag).is_some();
            if verb == Verb::Listen || has("follow") || has("follow-only") {
                return stream_of(
                    router,
                    menu,
                    verb == Verb::Print && has("follow"),
                    query,
                    proplist,
                );
            }
            print(
                router,
                menu,
                emit_empty,
                has("count-only"),
                &query,
                &proplist,
            )
        }
    }
}

fn print(
    router: &Router,
    menu: Menu,
    emit_empty: bool,
    count_only: bool,
    query: &Query,
    proplist: &Proplist,
) -> Action {
    let rows: Vec<Item> = menus::rows(router, menu)
        .into_iter()
        .filter(|item| query.matches(item))
        .collect();
    if count_only {
        return Action::Reply(vec![Reply::done().attr("ret", rows.len().to_string())]);
    }
    let mut replies: Vec<Reply> = rows.iter().map(|item| re(item, proplist)).collect();
    if replies.is_empty() && emit_empty {
        replies.push(Reply::empty());
    }
    replies.push(Reply::done());
    Action::Reply(replies)
}

fn stream_of(
    router: &Router,
    menu: Menu,
    backlog: bool,
    query: Query,
    proplist: Proplist,
) -> Action {
    if menu == Menu::Log {
        let (backlog, entries) = router.subscribe_log(backlog);
        return Action::Stream(StreamSpec::Log {
            backlog,
            entries,
            query,
            proplist,
        });
    }
    let rows = if backlog {
        menus::rows(router, menu)
            .iter()
            .filter(|item| query.matches(item))
            .map(|item| re(item, &proplist))
            .collect()
    } else {
        Vec::new()
    };
    Action::Stream(StreamSpec::Static { rows })
}

fn monitor(router: &Router, request: &Request) -> Action {
    let names = request
        .get("interface")
        .or_else(|| request.get("numbers"))
        .unwrap_or_default();
    let names = String::from_utf8_lossy(names);
    let mut links = Vec::new();
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let found = router.links.iter().enumerate().position(|(i, link)| {
            link.spec.name == name || crate::format::id(i as u64 + 1) == name
        });
        match found {
            Some(index) => links.push(index),
            None => {
                let message = "input does not match any value of interface";
                return Action::Reply(vec![trap(Some(1), message), Reply::done()]);
            }
        }
    }
    if links.is_empty() {
        return Action::Reply(vec![
            trap(Some(1), "missing value(s) of argument(s) interface"),
            Reply::done(),
        ]);
    }
    let proplist = Proplist::parse(request.get(".proplist"));
    if request.get("once").is_some() {
        let mut replies: Vec<Reply> = links
            .iter()
            .map(|i| re(&menus::monitor_row(router, &router.links[*i]), &proplist))
            .collect();
        replies.push(Reply::done());
        return Action::Reply(replies);
    }
    let interval = request
        .get("interval")
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .and_then(|v| {
            values::parse_duration(&v).or_else(|| {
                v.parse::<f64>()
                    .ok()
                    .and_then(|s| Duration::try_from_secs_f64(s).ok())
            })
        })
        .unwrap_or(Duration::from_secs(1))
        .max(MIN_INTERVAL);
    Action::Stream(StreamSpec::Monitor {
        links,
        interval,
        proplist,
    })
}
