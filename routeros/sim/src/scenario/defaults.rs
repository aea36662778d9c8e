//! Defaults of the scenario in one place: a quiet hAP ac² that has been up for a day.

use super::{
    Dhcp, Health, InterfaceSpec, LeaseSpec, LogSchedule, PppSession, Quirks, ResourceStep,
    RouterSpec, Scenario,
};

pub(super) fn one() -> u32 {
    1
}

pub(super) fn one_second() -> f64 {
    1.0
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            router: RouterSpec::default(),
            resource: vec![ResourceStep {
                at: 0.0,
                cpu_load: Some(3),
                free_memory: Some(77_594_624),
                free_hdd: Some(4_292_608),
            }],
            health: Health::default(),
            interface: vec![
                interface("ether1", 2_400_000, 350_000, Some("uplink")),
                interface("ether2", 300_000, 2_100_000, None),
                InterfaceSpec {
                    running: false,
                    ..interface("ether3", 0, 0, None)
                },
            ],
            ppp: Vec::new(),
            dhcp: Dhcp {
                bound: 2,
                ..Dhcp::default()
            },
            log: vec![LogSchedule {
                at: -60.0,
                topics: "dhcp,info".to_string(),
                message: "defconf assigned 192.168.88.100 for 02:00:00:00:00:64 host-100"
                    .to_string(),
                repeat: 1,
                every: 1.0,
            }],
            quirks: Quirks::default(),
        }
    }
}

fn interface(name: &str, rx_bps: u64, tx_bps: u64, comment: Option<&str>) -> InterfaceSpec {
    InterfaceSpec {
        name: name.to_string(),
        rx_bps,
        tx_bps,
        rx_byte: rx_bps * 3_000,
        tx_byte: tx_bps * 3_000,
        rx_packet: rx_bps * 3_000 / 800,
        tx_packet: tx_bps * 3_000 / 800,
        comment: comment.map(str::to_string),
        ..InterfaceSpec::default()
    }
}

impl Default for RouterSpec {
    fn default() -> Self {
        RouterSpec {
            identity: "MikroTik".to_string(),
            board_name: "hAP ac^2".to_string(),
            model: "RBD52G-5HacD2HnD".to_string(),
            serial_number: "D4E10C8A2F3B".to_string(),
            architecture: "arm".to_string(),
            cpu: "ARMv7".to_string(),
            cpu_count: 4,
            cpu_frequency: 716,
            total_memory: 134_217_728,
            total_hdd: 16_777_216,
            uptime: 93_784.0,
            routerboard: true,
            clock: None,
            time_zone: "UTC".to_string(),
            gmt_offset: "+00:00".to_string(),
        }
    }
}

impl Default for Health {
    fn default() -> Self {
        Health {
            temperature: Some(41.0),
            voltage: Some(24.1),
            cpu_temperature: None,
        }
    }
}

impl Default for InterfaceSpec {
    fn default() -> Self {
        InterfaceSpec {
            name: String::new(),
            kind: "ether".to_string(),
            mac: None,
            mtu: 1500,
            rx_bps: 0,
            tx_bps: 0,
            packet_size: 800,
            speed: "1G".to_string(),
            running: true,
            disabled: false,
            comment: None,
            rx_byte: 0,
            tx_byte: 0,
            rx_packet: 0,
            tx_packet: 0,
            rx_drop: 0,
            tx_drop: 0,
            rx_error: 0,
            tx_error: 0,
            link_downs: 0,
            flaps: Vec::new(),
            reset_at: None,
        }
    }
}

impl Default for PppSession {
    fn default() -> Self {
        PppSession {
            name: String::new(),
            service: "pppoe".to_string(),
            caller_id: String::new(),
            address: String::new(),
            uptime: 0.0,
            encoding: String::new(),
            rx_bps: 0,
            tx_bps: 0,
        }
    }
}

impl Default for Dhcp {
    fn default() -> Self {
        Dhcp {
            server: "defconf".to_string(),
            bound: 0,
            lease: Vec::new(),
        }
    }
}

impl Default for LeaseSpec {
    fn default() -> Self {
        LeaseSpec {
            address: String::new(),
            mac: String::new(),
            host_name: None,
            status: "bound".to_string(),
            expires_after: 600.0,
            comment: None,
        }
    }
}
