//! Learned transition times. An instance of a given type in a given region
//! takes about as long to start, stop or terminate as it did last time, and an
//! image about as long to become available; so a wait first looks when the
//! change is due, instead of polling blindly from zero. That keeps both the
//! delay before a change is noticed and the number of calls small. What was
//! learned is kept in a small JSON file beside the leftover journal, so the
//! next `terraform apply` in the same directory starts informed.
//!
//! What is kept per transition is a window: the change came after `lo` and by
//! `hi` seconds. A wait looks once, three quarters into the window, while it
//! is wide (a search spread over bakes, at one extra call at most, and only
//! when the change came in the last quarter), and then at `hi`; past `hi` it
//! backs off from a fortieth of `hi`. Three quarters rather than the middle:
//! calls are what an account's API rate limit counts, so the first look is
//! biased towards being the only one. A window learned by a blind wait is
//! coarse (its growing steps reach seconds): the next wait looks three
//! quarters into it, then at its end, and learns a narrower one. A bake whose first look
//! already found the change done widens the window downwards a little, so a
//! transition that got faster is found again.

use super::stored::Stored;
use crate::retry::Backoff;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// When the change came last time, in seconds after the request.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub lo: f64,
    pub hi: f64,
    /// Learned by a blind wait: looked at three quarters in, then at its end, by the next one.
    #[serde(default)]
    pub coarse: bool,
}

/// Learned windows, by "region/instance type/transition".
#[derive(Debug, Default)]
pub struct Pacer(Stored<Window>);

/// Names one transition for the pacer.
pub struct Pace<'a> {
    pub pacer: &'a Pacer,
    pub key: String,
}

/// Where in a wide window the first look goes.
const PROBE: f64 = 0.75;

/// Windows beyond this get one look at half of `hi` first, so a run much
/// faster than the last is not noticed late by minutes.
const LONG: f64 = 20.0;

/// How much of a narrow width a window opens downwards after a bake whose
/// first look found the change done: every few bakes it is wide enough again
/// to be probed inside, finding a transition that got faster at the cost of
/// one call.
const RELAX: f64 = 0.25;

/// A window this narrow (or a fortieth of `hi`) is aimed at its end.
fn narrow_width(hi: f64) -> f64 {
    (hi / 40.0).max(0.1)
}

/// When to look next during one wait.
pub struct Schedule {
    learned: Option<Window>,
    guard: bool,
    looked: bool,
    /// The window was probed: the rest of it is left to the next bake.
    bisected: bool,
    /// Looks made inside a coarse window so far.
    swept: u32,
    blind: Backoff,
    beyond: Option<Backoff>,
}

impl Schedule {
    pub fn new(learned: Option<Window>) -> Schedule {
        Schedule {
            learned,
            guard: learned.is_some_and(|w| w.hi > LONG),
            looked: false,
            bisected: false,
            swept: 0,
            // Growing by a quarter: the window a blind wait leaves is what
            // the next bake (often on another runner, through the state)
            // aims at, and half-again steps left it ±20 % wide at 5–10 s.
            blind: Backoff::default().growing(1.25),
            beyond: None,
        }
    }

    /// The time to look next, in seconds since the wait began, given `now`.
    pub fn next(&mut self, now: f64) -> f64 {
        let Some(w) = self.learned else {
            // Nothing learned: at once, then 200 ms growing by a quarter, capped at 4 s.
            if !std::mem::replace(&mut self.looked, true) {
                return now;
            }
            return now + self.blind.next_delay().as_secs_f64();
        };
        if let Some(b) = &mut self.beyond {
            return now + b.next_delay().as_secs_f64();
        }
        let wide = w.hi - w.lo > narrow_width(w.hi);
        let at = if self.guard {
            w.hi / 2.0
        } else if w.coarse && wide {
            // Three quarters in, then the end: at most two looks inside a
            // window a blind wait left (the change is anywhere in it), and
            // the first most often the only one.
            if self.swept == 0 {
                w.lo + PROBE * (w.hi - w.lo)
            } else {
                w.hi
            }
        } else if self.bisected || !wide {
            w.hi
        } else {
            w.lo + PROBE * (w.hi - w.lo)
        };
        at.max(now)
    }

    /// The look made at `at` found the change still pending.
    pub fn pending(&mut self, at: f64) {
        let Some(w) = &mut self.learned else {
            return;
        };
        if std::mem::take(&mut self.guard) {
            w.lo = w.lo.max(at);
            return;
        }
        if w.coarse {
            self.swept += 1;
        }
        if at >= w.hi {
            if self.beyond.is_none() {
                let step = Duration::from_secs_f64(narrow_width(w.hi).min(5.0));
                self.beyond = Some(Backoff::starting(step, step.max(Duration::from_secs(4))));
            }
            return;
        }
        if !w.coarse {
            w.lo = w.lo.max(at);
            self.bisected = true;
        }
    }
}

/// A window a wait can use: finite, within a day, in order. Whatever a file
/// or a state from elsewhere holds is checked before it is used.
fn sane(w: &Window) -> bool {
    let ok = |x: f64| x.is_finite() && (0.0..=86_400.0).contains(&x);
    ok(w.lo) && ok(w.hi) && w.lo <= w.hi
}

impl Pacer {
    pub fn at(file: Option<PathBuf>) -> Pacer {
        Pacer(Stored::at(file))
    }

    pub fn pace(&self, region: &str, instance_type: &str, transition: &str) -> Pace<'_> {
        Pace {
            pacer: self,
            key: format!("{region}/{instance_type}/{transition}"),
        }
    }

    /// What was learned about one instance type in one region: it travels
    /// with the resource's state, so a fresh machine (a CI runner) starts
    /// informed.
    pub async fn learned_for(&self, region: &str, instance_type: &str) -> BTreeMap<String, Window> {
        self.0
            .with_prefix(&format!("{region}/{instance_type}/"))
            .await
            .into_iter()
            .filter(|(_, w)| sane(w))
            .collect()
    }

    /// Takes what another machine learned where nothing is known here.
    pub async fn absorb(&self, learned: BTreeMap<String, Window>) {
        let learned: BTreeMap<String, Window> =
            learned.into_iter().filter(|(_, w)| sane(w)).collect();
        self.0.add_missing(learned).await;
    }

    /// Where the change came last time, if it was seen before.
    pub async fn expected(&self, key: &str) -> Option<Window> {
        let w = self.0.get(key).await?;
        sane(&w).then_some(w)
    }

    /// Learns from one wait that started from the window `from`: the change
    /// came after the last look that found it pending and by the look that
    /// found it done.
    pub async fn record(
        &self,
        key: &str,
        from: Option<Window>,
        last_pending: Option<Duration>,
        done: Duration,
    ) {
        let done = done.as_secs_f64();
        let w = match last_pending {
            Some(p) => Window {
                lo: p.as_secs_f64().min(done),
                hi: done,
                coarse: from.is_none(),
            },
            None => {
                let lo = from.map(|w| w.lo.min(done)).unwrap_or(0.0);
                Window {
                    lo: (lo - narrow_width(done) * RELAX).max(0.0),
                    hi: done,
                    coarse: false,
                }
            }
        };
        tracing::debug!(key, lo_s = w.lo, hi_s = w.hi, "transition time learned");
        self.0
            .update(|map| {
                map.insert(key.to_string(), w);
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn learns_a_window_and_keeps_it_across_processes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("timings.json");
        let p = Pacer::at(Some(file.clone()));
        assert_eq!(p.expected("r/t/run").await, None);
        p.record(
            "r/t/run",
            None,
            Some(Duration::from_secs(4)),
            Duration::from_secs(6),
        )
        .await;
        let w = Window {
            lo: 4.0,
            hi: 6.0,
            coarse: true,
        };
        assert_eq!(p.expected("r/t/run").await, Some(w));
        // Found done at the first look: done by 5 s, and the window opens downwards a little.
        let from = p.expected("r/t/run").await;
        p.record("r/t/run", from, None, Duration::from_secs(5))
            .await;
        let w = Window {
            lo: 4.0 - 0.125 * RELAX,
            hi: 5.0,
            coarse: false,
        };
        assert_eq!(p.expected("r/t/run").await, Some(w));
        assert_eq!(Pacer::at(Some(file)).expected("r/t/run").await, Some(w));
    }

    #[tokio::test]
    async fn what_one_machine_learned_seeds_another_without_overwriting_it() {
        let here = Pacer::default();
        for (t, hi) in [("run", 6), ("stop", 4)] {
            let key = format!("r/t3.micro/{t}");
            here.record(
                &key,
                None,
                Some(Duration::from_secs(hi - 1)),
                Duration::from_secs(hi),
            )
            .await;
        }
        here.record("r/m5.large/run", None, None, Duration::from_secs(9))
            .await;
        here.record("other/t3.micro/run", None, None, Duration::from_secs(9))
            .await;
        let travelling = here.learned_for("r", "t3.micro").await;
        let keys: Vec<&str> = travelling.keys().map(String::as_str).collect();
        assert_eq!(keys, vec!["r/t3.micro/run", "r/t3.micro/stop"]);

        let fresh = Pacer::default();
        fresh
            .record("r/t3.micro/stop", None, None, Duration::from_secs(2))
            .await;
        let mut with_junk = travelling.clone();
        with_junk.insert(
            "r/t3.micro/image".into(),
            Window {
                lo: 5.0,
                hi: 1.0,
                coarse: false,
            },
        );
        fresh.absorb(with_junk).await;
        assert_eq!(
            fresh.expected("r/t3.micro/run").await,
            travelling.get("r/t3.micro/run").copied()
        );
        assert_eq!(
            fresh.expected("r/t3.micro/stop").await.map(|w| w.hi),
            Some(2.0),
            "what is known here wins"
        );
        assert_eq!(
            fresh.expected("r/t3.micro/image").await,
            None,
            "an insane window is not taken"
        );
    }

    #[tokio::test]
    async fn a_damaged_file_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("timings.json");
        std::fs::write(&file, b"{not json").unwrap();
        let p = Pacer::at(Some(file));
        assert_eq!(p.expected("r/t/stop").await, None);
        p.record("r/t/stop", None, None, Duration::from_secs(1))
            .await;
        assert!(p.expected("r/t/stop").await.is_some());
    }

    #[test]
    fn probes_a_wide_window_once_then_aims_at_its_end() {
        let mut s = Schedule::new(Some(Window {
            lo: 4.0,
            hi: 8.0,
            coarse: false,
        }));
        assert_eq!(s.next(0.0), 7.0);
        s.pending(7.0);
        assert_eq!(s.next(7.0), 8.0);
        s.pending(8.0);
        // Later than ever seen: back off from a fortieth of `hi`.
        let t = s.next(8.0);
        assert!((8.15..=8.25).contains(&t), "{t}");
        // A narrow window (a fortieth of 8 s is 0.2 s) is aimed at its end at once.
        let mut n = Schedule::new(Some(Window {
            lo: 7.9,
            hi: 8.0,
            coarse: false,
        }));
        assert_eq!(n.next(0.0), 8.0);
    }

    /// What a blind wait leaves the next bake to aim at: around 10 s, a
    /// window a fifth of its time wide on average (each step is jittered
    /// ±20 %), not a third.
    #[test]
    fn a_blind_wait_leaves_a_narrow_window() {
        let trials = 400;
        let mut sum = 0.0;
        for _ in 0..trials {
            let mut s = Schedule::new(None);
            let (mut before, mut at) = (0.0, s.next(0.0));
            while at < 10.0 {
                (before, at) = (at, s.next(at));
            }
            sum += (at - before) / at;
        }
        let mean = sum / trials as f64;
        assert!(mean <= 0.26, "mean width {mean:.3} of the time");
    }

    #[test]
    fn a_coarse_window_is_looked_at_three_quarters_in_then_at_its_end() {
        let mut s = Schedule::new(Some(Window {
            lo: 4.0,
            hi: 8.0,
            coarse: true,
        }));
        assert_eq!(s.next(0.0), 7.0);
        s.pending(7.0);
        assert_eq!(s.next(6.0), 8.0);
        s.pending(8.0);
        let beyond = s.next(8.0);
        assert!(beyond > 8.0 && beyond <= 13.0, "{beyond}");
    }

    #[test]
    fn long_waits_look_halfway_first_and_blind_ones_at_once() {
        let mut s = Schedule::new(Some(Window {
            lo: 290.0,
            hi: 300.0,
            coarse: false,
        }));
        assert_eq!(s.next(0.0), 150.0);
        s.pending(150.0);
        assert_eq!(s.next(150.0), 297.5);
        let mut b = Schedule::new(None);
        assert_eq!(b.next(0.0), 0.0);
        let t = b.next(0.0);
        assert!((0.15..=0.25).contains(&t), "{t}");
    }
}
