import type { ComponentChildren } from "preact";
import { t } from "../i18n/es-MX";

export function Modal(props: { title: string; onClose: () => void; children: ComponentChildren; testId?: string }) {
  return (
    <div class="modal-backdrop" onClick={props.onClose}>
      <div
        class="modal"
        role="dialog"
        aria-modal="true"
        aria-label={props.title}
        data-testid={props.testId}
        onClick={(e) => e.stopPropagation()}
      >
        <header>
          <h2>{props.title}</h2>
          <button class="ghost" onClick={props.onClose} aria-label={t("close")}>
            ✕
          </button>
        </header>
        {props.children}
      </div>
    </div>
  );
}
