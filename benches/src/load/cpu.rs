//! Where the two cores went during a phase: CPU seconds (user + system) of the engine, of every
//! `postgres` process and of this tool, read from `/proc/PID/stat`.

/// Clock ticks per second of `/proc` times (USER_HZ, 100 on Linux).
const TICKS: f64 = 100.0;

/// CPU seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuSecs {
    pub engine: f64,
    pub postgres: f64,
    pub load_tool: f64,
}

impl CpuSecs {
    /// The difference from an earlier snapshot.
    pub fn since(&self, before: &CpuSecs) -> CpuSecs {
        CpuSecs {
            engine: self.engine - before.engine,
            postgres: self.postgres - before.postgres,
            load_tool: self.load_tool - before.load_tool,
        }
    }
}

/// `(comm, utime + stime in seconds)` of one `/proc/PID/stat` line.
pub fn parse_stat(line: &str) -> Option<(&str, f64)> {
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let comm = &line[open + 1..close];
    // Fields after the command: state is field 3, utime 14 and stime 15 (1-based).
    let rest: Vec<&str> = line[close + 1..].split_whitespace().collect();
    let utime: f64 = rest.get(11)?.parse().ok()?;
    let stime: f64 = rest.get(12)?.parse().ok()?;
    Some((comm, (utime + stime) / TICKS))
}

fn process_secs(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|l| parse_stat(&l).map(|(_, s)| s))
        .unwrap_or(0.0)
}

/// CPU seconds so far of the engine (when known), of all `postgres` processes and of us.
pub fn snapshot(engine: Option<u32>) -> CpuSecs {
    let mut postgres = 0.0;
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            if let Ok(line) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                && let Some(("postgres", secs)) = parse_stat(&line)
            {
                postgres += secs;
            }
        }
    }
    CpuSecs {
        engine: engine.map_or(0.0, process_secs),
        postgres,
        load_tool: process_secs(std::process::id()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_user_and_system_ticks() {
        let line = "4242 (postgres: w) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0";
        assert_eq!(super::parse_stat(line), Some(("postgres: w", 3.0)));
        assert!(super::snapshot(None).load_tool >= 0.0);
    }
}
