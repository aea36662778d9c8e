//! The demo's fixed data set: five client tenants of a Mexican MSP with their legal data,
//! sites, devices, people and tickets. Plain data, no I/O; [`super::seed`] writes it.

/// A client tenant with its legal profile.
pub struct TenantSpec {
    pub name: &'static str,
    pub legal_name: &'static str,
    pub rfc: &'static str,
    pub address: &'static str,
    pub city: &'static str,
    pub state: &'static str,
    pub plan: &'static str,
    pub suspended: bool,
    pub sites: &'static [SiteSpec],
}

/// A site with its devices.
pub struct SiteSpec {
    pub name: &'static str,
    pub address: &'static str,
    pub city: &'static str,
    pub state: &'static str,
    pub zip: &'static str,
    pub lat: f64,
    pub lon: f64,
    /// Agents (PCs and servers), by name.
    pub agents: &'static [&'static str],
    /// The site's MikroTik router and what it goes through, if it has one.
    pub router: Option<(&'static str, RouterScenario)>,
}

/// What a simulated router goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouterScenario {
    Quiet,
    /// Bursts of SSH login failures from one address.
    BruteForce,
    /// The PPPoE uplink drops and reconnects several times in a few minutes.
    PppoeFlapping,
    /// A LAN link goes down for a few minutes.
    LinkDown,
    /// The router stops answering for `demo.router_outage_s`.
    Unreachable,
}

pub const TENANTS: &[TenantSpec] = &[
    TenantSpec {
        name: "Comercializadora del Bajío",
        legal_name: "Comercializadora del Bajío S.A. de C.V.",
        rfc: "CBA150312H79",
        address: "Blvd. Adolfo López Mateos 1502, Col. Centro",
        city: "León",
        state: "Guanajuato",
        plan: "pro",
        suspended: false,
        sites: &[
            SiteSpec {
                name: "Matriz León",
                address: "Blvd. Adolfo López Mateos 1502, Col. Centro",
                city: "León",
                state: "Guanajuato",
                zip: "37000",
                lat: 21.1236,
                lon: -101.6807,
                agents: &[
                    "LEON-RECEPCION-01",
                    "LEON-CONTABILIDAD-01",
                    "LEON-CONTABILIDAD-02",
                    "LEON-DIRECCION-01",
                    "LEON-VENTAS-01",
                    "LEON-VENTAS-02",
                    "LEON-VENTAS-03",
                    "LEON-ALMACEN-01",
                    "LEON-SRV-ERP",
                    "LEON-SRV-ARCHIVOS",
                    "LEON-SRV-RESPALDOS",
                    "LEON-MERCADOTECNIA-01",
                ],
                router: Some(("RTR-LEON-MATRIZ", RouterScenario::BruteForce)),
            },
            SiteSpec {
                name: "Sucursal Irapuato",
                address: "Av. Guerrero 418, Col. Centro",
                city: "Irapuato",
                state: "Guanajuato",
                zip: "36500",
                lat: 20.6767,
                lon: -101.3563,
                agents: &[
                    "IRA-CAJA-01",
                    "IRA-CAJA-02",
                    "IRA-GERENCIA-01",
                    "IRA-BODEGA-01",
                    "IRA-MOSTRADOR-01",
                    "IRA-MOSTRADOR-02",
                ],
                router: Some(("RTR-IRAPUATO", RouterScenario::Unreachable)),
            },
            SiteSpec {
                name: "Centro de Distribución Silao",
                address: "Carretera León–Silao km 154, Puerto Interior",
                city: "Silao",
                state: "Guanajuato",
                zip: "36275",
                lat: 20.9436,
                lon: -101.4280,
                agents: &[
                    "SILAO-ANDEN-01",
                    "SILAO-ANDEN-02",
                    "SILAO-EMBARQUES-01",
                    "SILAO-INVENTARIO-01",
                    "SILAO-SUPERVISION-01",
                ],
                router: Some(("RTR-SILAO", RouterScenario::Quiet)),
            },
        ],
    },
    TenantSpec {
        name: "Clínica Santa Fe de Querétaro",
        legal_name: "Clínica Santa Fe de Querétaro S.C.",
        rfc: "CSF080922K15",
        address: "Av. Constituyentes 120 Pte., Col. El Carrizal",
        city: "Querétaro",
        state: "Querétaro",
        plan: "pro",
        suspended: false,
        sites: &[
            SiteSpec {
                name: "Hospital Constituyentes",
                address: "Av. Constituyentes 120 Pte., Col. El Carrizal",
                city: "Querétaro",
                state: "Querétaro",
                zip: "76030",
                lat: 20.5888,
                lon: -100.3899,
                agents: &[
                    "QRO-ADMISION-01",
                    "QRO-ADMISION-02",
                    "QRO-URGENCIAS-01",
                    "QRO-URGENCIAS-02",
                    "QRO-FARMACIA-01",
                    "QRO-LABORATORIO-01",
                    "QRO-RAYOSX-01",
                    "QRO-SRV-EXPEDIENTE",
                    "QRO-SRV-PACS",
                    "QRO-ENFERMERIA-01",
                    "QRO-QUIROFANO-01",
                    "QRO-SRV-DICOM",
                ],
                router: Some(("RTR-QRO-HOSPITAL", RouterScenario::PppoeFlapping)),
            },
            SiteSpec {
                name: "Consultorios Juriquilla",
                address: "Blvd. Juriquilla 3100, Juriquilla",
                city: "Querétaro",
                state: "Querétaro",
                zip: "76230",
                lat: 20.7095,
                lon: -100.4468,
                agents: &[
                    "JUR-RECEPCION-01",
                    "JUR-CONSULTORIO-01",
                    "JUR-CONSULTORIO-02",
                    "JUR-CONSULTORIO-03",
                    "JUR-CAJA-01",
                    "JUR-SEÑALIZACIÓN-01",
                    "JUR-TOMOGRAFIA-01",
                ],
                router: Some(("RTR-JURIQUILLA", RouterScenario::Quiet)),
            },
        ],
    },
    TenantSpec {
        name: "Despacho Contable Núñez y Asociados",
        legal_name: "Despacho Contable Núñez y Asociados S.C.",
        rfc: "DCN110517Q48",
        address: "Calle Hidalgo 87, Col. Centro",
        city: "Puebla",
        state: "Puebla",
        // Exactly at its plan's 5 devices: adding one shows the upsell.
        plan: "basic",
        suspended: false,
        sites: &[SiteSpec {
            name: "Oficina Puebla Centro",
            address: "Calle Hidalgo 87, Col. Centro",
            city: "Puebla",
            state: "Puebla",
            zip: "72000",
            lat: 19.0433,
            lon: -98.1981,
            agents: &[
                "NUNEZ-SOCIO-01",
                "NUNEZ-NOMINAS-01",
                "NUNEZ-FISCAL-01",
                "NUNEZ-FISCAL-02",
                "NUNEZ-RECEPCION-01",
            ],
            router: None,
        }],
    },
    TenantSpec {
        name: "Logística Peñasco del Norte",
        legal_name: "Logística Peñasco del Norte S.A. de C.V.",
        rfc: "LPN190204MX3",
        address: "Av. Constitución 2050 Ote., Col. Centro",
        city: "Monterrey",
        state: "Nuevo León",
        plan: "inter",
        suspended: false,
        sites: &[
            SiteSpec {
                name: "Oficinas Monterrey",
                address: "Av. Constitución 2050 Ote., Col. Centro",
                city: "Monterrey",
                state: "Nuevo León",
                zip: "64000",
                lat: 25.6714,
                lon: -100.3090,
                agents: &[
                    "MTY-TRAFICO-01",
                    "MTY-TRAFICO-02",
                    "MTY-FACTURACION-01",
                    "MTY-DIRECCION-01",
                    "MTY-SRV-TMS",
                    "MTY-SEGURIDAD-NVR",
                ],
                router: Some(("RTR-MTY", RouterScenario::LinkDown)),
            },
            SiteSpec {
                name: "Patio Apodaca",
                address: "Carretera Miguel Alemán km 21.5",
                city: "Apodaca",
                state: "Nuevo León",
                zip: "66600",
                lat: 25.7818,
                lon: -100.1886,
                agents: &[
                    "APO-CASETA-01",
                    "APO-TALLER-01",
                    "APO-DESPACHO-01",
                    "APO-DESPACHO-02",
                    "APO-BÁSCULA-01",
                ],
                router: Some(("RTR-APODACA", RouterScenario::Quiet)),
            },
        ],
    },
    TenantSpec {
        name: "Colegio Ágora de Mérida",
        legal_name: "Colegio Ágora de Mérida A.C.",
        rfc: "CAM050830R21",
        address: "Calle 60 No. 455 x 51 y 53, Centro",
        city: "Mérida",
        state: "Yucatán",
        plan: "inter",
        // Suspended for non-payment: its users read, every write answers 403.
        suspended: true,
        sites: &[
            SiteSpec {
                name: "Campus Centro",
                address: "Calle 60 No. 455 x 51 y 53, Centro",
                city: "Mérida",
                state: "Yucatán",
                zip: "97000",
                lat: 20.9674,
                lon: -89.6237,
                agents: &[
                    "AGORA-DIRECCION-01",
                    "AGORA-CONTROL-ESCOLAR-01",
                    "AGORA-LAB-CÓMPUTO-01",
                    "AGORA-LAB-CÓMPUTO-02",
                    "AGORA-BIBLIOTECA-01",
                ],
                router: Some(("RTR-AGORA-CENTRO", RouterScenario::Quiet)),
            },
            SiteSpec {
                name: "Campus Norte",
                address: "Calle 21 No. 302, Col. Montecristo",
                city: "Mérida",
                state: "Yucatán",
                zip: "97133",
                lat: 21.0358,
                lon: -89.6057,
                agents: &[
                    "AGORA-NORTE-PREFECTURA-01",
                    "AGORA-NORTE-SALA-MAESTROS",
                    "AGORA-NORTE-CAJA-01",
                    "AGORA-NORTE-ENFERMERÍA",
                ],
                router: None,
            },
        ],
    },
];

/// Agents the fleet does not run: they fall silent and go offline shortly after the start.
pub const SILENT_AGENTS: &[&str] = &["LEON-ALMACEN-01", "APO-TALLER-01", "JUR-TOMOGRAFIA-01"];

/// A demo account.
pub struct AccountSpec {
    pub email: &'static str,
    pub password: &'static str,
    pub role: &'static str,
    pub name: &'static str,
    /// Tenant by index into [`TENANTS`] (tenant roles only).
    pub tenant: Option<usize>,
    /// Sites (by index into the tenant's sites) of a requester.
    pub sites: &'static [usize],
}

pub const ADMIN_PASSWORD: &str = "DemoAdmin123!";
pub const TECH_PASSWORD: &str = "DemoTec123!";
pub const REQUESTER_PASSWORD: &str = "DemoSol123!";
pub const CLIENT_PASSWORD: &str = "DemoCli123!";

const fn requester(
    email: &'static str,
    name: &'static str,
    tenant: usize,
    sites: &'static [usize],
) -> AccountSpec {
    AccountSpec {
        email,
        password: REQUESTER_PASSWORD,
        role: "requester",
        name,
        tenant: Some(tenant),
        sites,
    }
}

const fn staff(
    email: &'static str,
    password: &'static str,
    role: &'static str,
    name: &'static str,
) -> AccountSpec {
    AccountSpec {
        email,
        password,
        role,
        name,
        tenant: None,
        sites: &[],
    }
}

const fn client(email: &'static str, name: &'static str, tenant: usize) -> AccountSpec {
    AccountSpec {
        email,
        password: CLIENT_PASSWORD,
        role: "client_admin",
        name,
        tenant: Some(tenant),
        sites: &[],
    }
}

pub const ACCOUNTS: &[AccountSpec] = &[
    staff(
        "admin@lanetdemo.com",
        ADMIN_PASSWORD,
        "superadmin",
        "Administración Lanet",
    ),
    staff(
        "tecnico1@lanetdemo.com",
        TECH_PASSWORD,
        "technician",
        "Juan Pérez Ramírez",
    ),
    staff(
        "tecnico2@lanetdemo.com",
        TECH_PASSWORD,
        "technician",
        "María Fernanda Núñez",
    ),
    staff(
        "tecnico3@lanetdemo.com",
        TECH_PASSWORD,
        "technician",
        "José Ángel Gutiérrez",
    ),
    client("cliente1@lanetdemo.com", "Verónica Ibáñez Soto", 0),
    client("cliente2@lanetdemo.com", "Ramón Peña Castillo", 2),
    client("cliente3@lanetdemo.com", "Lucía Canché Pech", 4),
    requester(
        "solicitante1@lanetdemo.com",
        "Sofía Hernández López",
        0,
        &[0],
    ),
    requester("solicitante2@lanetdemo.com", "Carlos Muñoz Díaz", 0, &[1]),
    requester(
        "solicitante3@lanetdemo.com",
        "Andrea Jiménez Ortega",
        0,
        &[2],
    ),
    requester(
        "solicitante4@lanetdemo.com",
        "Miguel Ángel Ruiz",
        0,
        &[0, 1],
    ),
    requester(
        "solicitante5@lanetdemo.com",
        "Dra. Patricia Domínguez",
        1,
        &[0],
    ),
    requester("solicitante6@lanetdemo.com", "Enf. Jesús Bañuelos", 1, &[0]),
    requester("solicitante7@lanetdemo.com", "Dr. Óscar Valdés", 1, &[1]),
    requester(
        "solicitante8@lanetdemo.com",
        "Gabriela Núñez Treviño",
        2,
        &[0],
    ),
    requester(
        "solicitante9@lanetdemo.com",
        "Roberto Garza Villarreal",
        3,
        &[0],
    ),
    requester(
        "solicitante10@lanetdemo.com",
        "Daniela Cantú Salinas",
        3,
        &[1],
    ),
    requester(
        "solicitante11@lanetdemo.com",
        "Héctor Elizondo Peña",
        3,
        &[0, 1],
    ),
    requester(
        "solicitante12@lanetdemo.com",
        "Maestra Inés Uc Chan",
        4,
        &[0],
    ),
    requester("solicitante13@lanetdemo.com", "Luis Fernando Poot", 4, &[1]),
    requester(
        "solicitante14@lanetdemo.com",
        "Karla Güémez Rosado",
        4,
        &[0],
    ),
    requester(
        "solicitante15@lanetdemo.com",
        "Ana Sofía Castañeda",
        1,
        &[1],
    ),
];

/// The accounts shown on the login page (and in docs/api.md).
pub const LOGIN_ACCOUNTS: [&str; 4] = [
    "admin@lanetdemo.com",
    "tecnico1@lanetdemo.com",
    "solicitante1@lanetdemo.com",
    "cliente1@lanetdemo.com",
];

/// Ticket subjects and descriptions (the helpdesk's everyday Spanish).
pub const TICKET_TEXTS: &[(&str, &str, &str)] = &[
    (
        "No imprime la impresora de recepción",
        "La impresora HP de recepción marca error de papel aunque tiene hojas.",
        "hardware",
    ),
    (
        "Correo no sincroniza en Outlook",
        "Desde esta mañana Outlook pide la contraseña una y otra vez.",
        "correo",
    ),
    (
        "Equipo muy lento al iniciar",
        "La computadora tarda más de diez minutos en arrancar.",
        "hardware",
    ),
    (
        "Alta de usuario para nuevo empleado",
        "Favor de crear cuenta y correo para el nuevo auxiliar contable.",
        "cuentas",
    ),
    (
        "Sin acceso a carpeta compartida",
        "No puedo abrir la carpeta de Facturación en el servidor de archivos.",
        "red",
    ),
    (
        "Internet intermitente en sucursal",
        "Se cae la conexión cada media hora aproximadamente.",
        "red",
    ),
    (
        "Instalar actualización del ERP",
        "Se requiere instalar la versión 8.2 del ERP en cajas.",
        "software",
    ),
    (
        "Pantalla parpadea en consultorio",
        "El monitor del consultorio 2 parpadea y se apaga.",
        "hardware",
    ),
    (
        "Respaldo nocturno falló",
        "El respaldo del servidor no terminó anoche; revisar bitácora.",
        "respaldos",
    ),
    (
        "Solicitud de licencia de Office",
        "Necesitamos una licencia adicional para el área de nóminas.",
        "software",
    ),
    (
        "Teléfono IP sin tono",
        "La extensión 204 no tiene tono desde el cambio de cableado.",
        "telefonía",
    ),
    (
        "Cambio de contraseña del Wi-Fi de invitados",
        "Por política mensual, cambiar la clave de la red de invitados.",
        "red",
    ),
];

/// Each status with the moves that lead to it from `new` (the contract's state machine).
pub const TICKET_PATHS: &[&[&str]] = &[
    &[],
    &["pending_approval"],
    &["assigned"],
    &["assigned", "in_progress"],
    &["assigned", "in_progress", "waiting_customer"],
    &["assigned", "in_progress", "waiting_customer", "resolved"],
    &[
        "assigned",
        "in_progress",
        "waiting_customer",
        "resolved",
        "closed",
    ],
    &[
        "assigned",
        "in_progress",
        "waiting_customer",
        "resolved",
        "reopened",
    ],
    &["cancelled"],
];

/// Tickets seeded.
pub const TICKETS: usize = 60;
