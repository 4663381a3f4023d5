//! What the kernel says about processes and the machine: CPU time (from
//! `/proc/PID/stat` and each thread's `schedstat`), memory (`status`), the
//! load average and how busy all cores were.

use std::fmt;
use std::time::{Duration, Instant};

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// CPU a process has used so far, all threads.
#[derive(Debug, Clone, Copy)]
pub struct Cpu {
    /// utime + stime from `/proc/PID/stat`, in clock ticks; includes
    /// threads that have ended.
    ticks: u64,
    /// The sum of the live threads' run time (`schedstat`), in ns.
    ns: u64,
    /// The live threads' context switches, voluntary or not.
    switches: u64,
}

impl Cpu {
    pub fn of(pid: i32) -> Self {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_else(|err| panic!("/proc/{pid}/stat: {err}"));
        // The fields after the command name, which may hold spaces.
        let rest = &stat[stat.rfind(')').expect("stat has a command name") + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15; `rest` starts at field 3.
        let ticks = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        let mut ns = 0;
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for task in tasks.flatten() {
                let path = task.path().join("schedstat");
                if let Ok(text) = std::fs::read_to_string(path) {
                    ns += text
                        .split_whitespace()
                        .next()
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0);
                }
            }
        }
        let mut switches = 0;
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for task in tasks.flatten() {
                let status =
                    std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
                switches += status
                    .lines()
                    .filter(|l| l.contains("ctxt_switches:"))
                    .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                    .sum::<u64>();
            }
        }
        Self {
            ticks,
            ns,
            switches,
        }
    }

    /// Context switches of the live threads since `before`: about how
    /// often the process woke up.
    pub fn switches_since(&self, before: &Cpu) -> u64 {
        self.switches.saturating_sub(before.switches)
    }

    /// Seconds of CPU since `before`, from utime + stime.
    pub fn secs_since(&self, before: &Cpu) -> f64 {
        (self.ticks - before.ticks) as f64 / clock_ticks()
    }

    /// Seconds of CPU since `before`, from the threads' run time (finer,
    /// but blind to threads that ended in between).
    pub fn run_secs_since(&self, before: &Cpu) -> f64 {
        self.ns.saturating_sub(before.ns) as f64 / 1e9
    }
}

/// CPU each live thread of a process has used so far, by thread name:
/// utime + stime in clock ticks.
pub fn threads(pid: i32) -> Vec<(String, u64)> {
    let mut threads: Vec<(String, u64)> = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return threads;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        let ticks = fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
        match threads.iter_mut().find(|(n, _)| *n == name) {
            Some((_, sum)) => *sum += ticks,
            None => threads.push((name, ticks)),
        }
    }
    threads
}

/// Seconds of CPU by thread name between two [`threads`] readings, the
/// busiest first; threads that came or went in between count from zero.
pub fn threads_since(before: &[(String, u64)], now: &[(String, u64)]) -> Vec<(String, f64)> {
    let mut spent: Vec<(String, f64)> = now
        .iter()
        .map(|(name, ticks)| {
            let was = before
                .iter()
                .find(|(n, _)| n == name)
                .map_or(0, |(_, t)| *t);
            (
                name.clone(),
                ticks.saturating_sub(was) as f64 / clock_ticks(),
            )
        })
        .filter(|(_, secs)| *secs > 0.0)
        .collect();
    spent.sort_by(|a, b| b.1.total_cmp(&a.1));
    spent
}

/// Busy CPU time of the whole machine so far, in seconds (all cores).
pub fn machine_busy() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    let cpu = stat.lines().next().expect("a cpu line");
    let values: Vec<u64> = cpu
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy = values[0] + values[1] + values[2] + values[5] + values[6] + values[7];
    busy as f64 / clock_ticks()
}

/// Resident memory, now and at its peak.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    rss_kib: u64,
    peak_kib: u64,
}

impl Memory {
    pub fn rss_mib(&self) -> f64 {
        self.rss_kib as f64 / 1024.0
    }
    pub fn peak_mib(&self) -> f64 {
        self.peak_kib as f64 / 1024.0
    }
}

pub fn memory(pid: i32) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|err| panic!("/proc/{pid}/status: {err}"));
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse().ok())
            .unwrap_or(0)
    };
    Memory {
        rss_kib: field("VmRSS:"),
        peak_kib: field("VmHWM:"),
    }
}

/// The load average, and how busy the machine was just before.
pub struct Load {
    averages: String,
    /// Cores busy over the second before (of 2 here).
    busy: Option<f64>,
}

/// Below this many cores busy (of 2), the machine counts as quiet.
const QUIET: f64 = 0.3;
/// How long [`Load::settle`] waits for a quiet second.
const SETTLE_LIMIT: Duration = Duration::from_secs(180);

impl Load {
    pub fn now() -> Self {
        let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let averages = text
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            averages,
            busy: None,
        }
    }

    /// Waits (up to a few minutes) for a second in which the machine is
    /// quiet, so that a measurement does not start while others build.
    pub fn settle() -> Self {
        let deadline = Instant::now() + SETTLE_LIMIT;
        loop {
            let before = machine_busy();
            let start = Instant::now();
            std::thread::sleep(Duration::from_secs(1));
            let busy = (machine_busy() - before) / start.elapsed().as_secs_f64();
            if busy < QUIET || Instant::now() > deadline {
                return Self {
                    busy: Some(busy),
                    ..Self::now()
                };
            }
        }
    }
}

impl fmt::Display for Load {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "load {}", self.averages)?;
        if let Some(busy) = self.busy {
            write!(f, ", {busy:.2} cores busy the second before")?;
        }
        Ok(())
    }
}

/// CPU of each process over `window` in which nobody touches them, one
/// line each, then the sum and the whole machine.
pub fn idle_cpu(pids: &[(&str, i32)], window: Duration) -> Vec<String> {
    let before: Vec<Cpu> = pids.iter().map(|(_, pid)| Cpu::of(*pid)).collect();
    let machine = machine_busy();
    let start = Instant::now();
    std::thread::sleep(window);
    let secs = start.elapsed().as_secs_f64();
    let machine = machine_busy() - machine;
    let mut lines = Vec::new();
    let (mut total_stat, mut total_run) = (0.0, 0.0);
    for ((name, pid), before) in pids.iter().zip(&before) {
        let now = Cpu::of(*pid);
        let stat = now.secs_since(before);
        let run = now.run_secs_since(before);
        total_stat += stat;
        total_run += run;
        lines.push(format!(
            "{name} (pid {pid}): {:.1} ms by stat, {:.2} ms by schedstat = {:.4}% of a core, {:.1} wake-ups a second",
            stat * 1e3,
            run * 1e3,
            100.0 * run / secs,
            now.switches_since(before) as f64 / secs
        ));
    }
    lines.push(format!(
        "together: {:.1} ms by stat, {:.2} ms by schedstat = {:.4}% of a core; whole machine busy {:.1}% of 2 cores",
        total_stat * 1e3,
        total_run * 1e3,
        100.0 * total_run / secs,
        100.0 * machine / secs / 2.0
    ));
    lines
}

/// One line about the machine.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("?".to_owned(), |m| m.trim().to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let tmux = std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!(
        "{cores} cores, {model}, Linux {}, {tmux}, {}",
        kernel.trim(),
        Load::now()
    )
}
