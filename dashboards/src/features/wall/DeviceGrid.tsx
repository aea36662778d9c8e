import type { Device } from "../../api/types";
import { t } from "../../i18n/es-MX";
import { VirtualRows } from "../../ui/VirtualRows";
import { deviceList } from "../../state/store";
import { light } from "../../state/wall";

const LABEL = { green: t("healthy"), yellow: t("warning"), red: t("critical"), grey: t("offline") } as const;

export function DeviceGrid() {
  const devices = deviceList.value;
  if (devices.length === 0) return <p class="empty">{t("noDevices")}</p>;
  return (
    <VirtualRows
      items={devices}
      rowHeight={64}
      itemWidth={220}
      keyOf={(d) => d.id}
      render={(d) => <DeviceTile device={d} />}
      class="device-grid"
      testId="device-grid"
    />
  );
}

function DeviceTile({ device }: { device: Device }) {
  const l = light(device);
  return (
    <a class={`tile light-${l}`} href={`#/dispositivos/${device.id}`} data-testid="device-tile" data-light={l} title={LABEL[l]}>
      <span class="dot" aria-hidden="true" />
      <span class="tile-name">{device.name}</span>
      <span class="tile-kind">{device.kind === "routeros" ? "MikroTik" : LABEL[l]}</span>
    </a>
  );
}
