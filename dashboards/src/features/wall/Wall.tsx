import { useState } from "preact/hooks";
import { t } from "../../i18n/es-MX";
import { canAddDevice, user } from "../../state/session";
import { loaded } from "../../state/store";
import { AddDevice } from "../devices/AddDevice";
import { AlertList } from "./AlertList";
import { DeviceGrid } from "./DeviceGrid";
import { Filters } from "./Filters";
import { KpiTiles } from "./KpiTiles";

export function Wall() {
  const [adding, setAdding] = useState(false);
  if (!loaded.value) return <p class="empty">{t("loading")}</p>;
  return (
    <div class="wall">
      <KpiTiles />
      <div class="wall-body">
        <section class="panel devices-panel">
          <div class="panel-head">
            <h2>{t("devices")}</h2>
            <Filters />
            {canAddDevice(user.value) && (
              <button class="primary" data-testid="add-device" onClick={() => setAdding(true)}>{t("addDevice")}</button>
            )}
          </div>
          <DeviceGrid />
        </section>
        <section class="panel alerts-panel">
          <h2>{t("openAlerts")}</h2>
          <AlertList />
        </section>
      </div>
      {adding && <AddDevice onClose={() => setAdding(false)} />}
    </div>
  );
}
