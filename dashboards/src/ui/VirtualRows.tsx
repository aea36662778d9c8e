// The one virtual list: fixed row height, rows of `perRow` items (a grid is rows of tiles).
// Only the rows in view (plus overscan) are in the DOM, so 2,000 devices cost a screenful.
import { Virtualizer, elementScroll, observeElementOffset, observeElementRect } from "@tanstack/virtual-core";
import type { ComponentChildren } from "preact";
import { useEffect, useLayoutEffect, useReducer, useRef, useState } from "preact/hooks";

interface Props<T> {
  items: readonly T[];
  rowHeight: number;
  /** Item width for grids; omit for one item per row. */
  itemWidth?: number;
  render: (item: T) => ComponentChildren;
  keyOf: (item: T) => string;
  class?: string;
  testId?: string;
}

export function VirtualRows<T>({ items, rowHeight, itemWidth, render, keyOf, class: cls, testId }: Props<T>) {
  const scroller = useRef<HTMLDivElement>(null);
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const [width, setWidth] = useState(0);
  const perRow = itemWidth ? Math.max(1, Math.floor(width / itemWidth)) : 1;
  const rows = Math.ceil(items.length / perRow);
  const [virtualizer] = useState(
    () =>
      new Virtualizer<HTMLDivElement, Element>({
        count: rows,
        getScrollElement: () => scroller.current,
        estimateSize: () => rowHeight,
        overscan: 4,
        scrollToFn: elementScroll,
        observeElementRect,
        observeElementOffset,
        onChange: () => rerender(0),
      }),
  );
  virtualizer.setOptions({ ...virtualizer.options, count: rows });
  useLayoutEffect(() => virtualizer._didMount(), []);
  useLayoutEffect(() => virtualizer._willUpdate());
  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setWidth(el.clientWidth));
    observer.observe(el);
    setWidth(el.clientWidth);
    return () => observer.disconnect();
  }, []);
  return (
    <div ref={scroller} class={`virtual ${cls ?? ""}`} data-testid={testId}>
      <div style={{ height: `${virtualizer.getTotalSize()}px`, position: "relative" }}>
        {virtualizer.getVirtualItems().map((row) => (
          <div
            key={row.key}
            class="virtual-row"
            style={{ transform: `translateY(${row.start}px)`, height: `${rowHeight}px` }}
          >
            {items.slice(row.index * perRow, row.index * perRow + perRow).map((item) => (
              <div key={keyOf(item)} class="virtual-cell" style={itemWidth ? { width: `${itemWidth}px` } : undefined}>
                {render(item)}
              </div>
            ))}
          </div>
        ))}
      </div>
    </div>
  );
}
