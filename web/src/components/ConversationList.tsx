import { memo, useEffect, useMemo, useRef, useState, type KeyboardEvent } from "react";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import { api, keys, type ChatFilters, type HumanFilter } from "../api/endpoints";
import type { ChatSummary } from "../api/types";
import { activeTag, flattenChats } from "../lib/cache";
import { CHANNELS, channelColor } from "../lib/channels";
import { useI18n, useLiveState, useNow } from "../lib/context";
import { formatListDate, isOnline } from "../lib/dates";
import { highlightParts } from "../lib/highlight";
import type { MessageKey } from "../i18n";
import { AttentionControls } from "./AttentionControls";
import { Avatar, TagChip } from "./common";
import { HandIcon, SearchIcon } from "./icons";

const ROW_HEIGHT = 76;

function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const id = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(id);
  }, [value, ms]);
  return debounced;
}

export function ConversationList({ selectedId, onSelect, filters: shown, onFilters }: {
  selectedId: string | null; onSelect: (id: string, messageId?: number) => void; filters: ChatFilters;
  onFilters: (next: ChatFilters) => void;
}) {
  const { t } = useI18n();
  const live = useLiveState();
  // The search box is typed into locally; the address (and the query) follow a moment later.
  const [search, setSearch] = useState(shown.q);
  const q = useDebounced(search, 250);
  useEffect(() => {
    if (q !== shown.q) onFilters({ ...shown, q });
  }, [q]); // eslint-disable-line react-hooks/exhaustive-deps -- only the typed text drives this
  const { human_filter: humanFilter, channel, tag } = shown;
  const filters: ChatFilters = useMemo(() => ({ human_filter: humanFilter, channel, tag, q: shown.q }),
    [humanFilter, channel, tag, shown.q]);
  const setHumanFilter = (value: HumanFilter) => onFilters({ ...filters, human_filter: value });
  const setChannel = (value: string) => onFilters({ ...filters, channel: value });
  const setTag = (value: string) => onFilters({ ...filters, tag: value });

  const tags = useQuery({ queryKey: keys.tags, queryFn: api.tags, staleTime: Infinity });
  const chats = useInfiniteQuery({
    queryKey: keys.chats(filters),
    queryFn: ({ pageParam }) => api.chats(filters, pageParam),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
    // Events keep the list current; a slow poll only while the socket is down.
    refetchInterval: live === "open" ? false : 60_000,
    staleTime: live === "open" ? Infinity : 30_000,
  });
  const rows = useMemo(() => flattenChats(chats.data), [chats.data]);
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = chats;

  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length + (hasNextPage ? 1 : 0),
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 10,
  });
  const items = virtualizer.getVirtualItems();
  const lastIndex = items.length ? items[items.length - 1].index : -1;

  // Infinite scroll: ask for the next keyset page as the end of what is loaded comes into view.
  useEffect(() => {
    if (hasNextPage && !isFetchingNextPage && lastIndex >= rows.length - 10) fetchNextPage();
  }, [lastIndex, rows.length, hasNextPage, isFetchingNextPage, fetchNextPage]);

  const selectedIndex = rows.findIndex((r) => r.id === selectedId);

  function nextIndex(key: string): number | null {
    if (key === "ArrowDown") return Math.min(rows.length - 1, selectedIndex + 1);
    if (key === "ArrowUp") return Math.max(0, selectedIndex < 0 ? 0 : selectedIndex - 1);
    if (key === "Home") return 0;
    if (key === "End") return rows.length - 1;
    return null;
  }

  function goTo(index: number) {
    if (index >= 0 && rows[index]) {
      onSelect(rows[index].id, rows[index].match?.message_id);
      virtualizer.scrollToIndex(index, { align: "auto" });
    }
  }

  function onKeyDown(e: KeyboardEvent<HTMLDivElement>) {
    const next = nextIndex(e.key);
    if (next === null) return;
    e.preventDefault();
    goTo(next);
  }

  // Alt+↑/↓ move through conversations from anywhere, the composer included.
  const goToRef = useRef({ nextIndex, goTo });
  goToRef.current = { nextIndex, goTo };
  useEffect(() => {
    const onKey = (e: globalThis.KeyboardEvent) => {
      if (!e.altKey || (e.key !== "ArrowDown" && e.key !== "ArrowUp") || document.querySelector("dialog[open]")) return;
      const next = goToRef.current.nextIndex(e.key);
      if (next === null) return;
      e.preventDefault();
      goToRef.current.goTo(next);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const ownerOptions: HumanFilter[] = ["all", "bot_only", "human_only"];

  return (
    <section className="col col-list" aria-label={t("list.title")}>
      <div className="list-head">
        <div className="list-title-row">
          <h1 className="col-title">{t("list.title")}</h1>
          <AttentionControls />
        </div>
        <div className="search">
          <SearchIcon className="search-icon" />
          <input type="search" aria-label={t("list.search")} placeholder={t("list.search")} value={search}
            title={t("list.searchHint")}
            onChange={(e) => setSearch(e.target.value)} />
        </div>
        <div className="segmented" role="radiogroup" aria-label={t("list.owner")}>
          {ownerOptions.map((o) => (
            <button key={o} type="button" role="radio" aria-checked={humanFilter === o}
              className={humanFilter === o ? "is-on" : undefined} onClick={() => setHumanFilter(o)}>
              {t(`list.owner.${o}` as MessageKey)}
            </button>
          ))}
        </div>
        <div className="filters" role="group" aria-label={t("list.filters")}>
          <select aria-label={t("list.tag")} value={tag} onChange={(e) => setTag(e.target.value)}>
            <option value="">{t("list.anyTag")}</option>
            {tags.data?.map((x) => <option key={x.id} value={x.id}>{x.name}</option>)}
          </select>
          <select aria-label={t("list.channel")} value={channel} onChange={(e) => setChannel(e.target.value)}>
            <option value="">{t("list.anyChannel")}</option>
            {CHANNELS.map((c) => <option key={c} value={c}>{t(`channel.${c}` as MessageKey)}</option>)}
          </select>
        </div>
      </div>
      <div className="list-scroll" ref={scrollRef}>
        {chats.isPending && <p className="list-note" role="status">{t("list.loading")}</p>}
        {chats.isError && (
          <p className="list-note" role="alert">{t("list.error")} <button className="link" onClick={() => chats.refetch()}>{t("common.retry")}</button></p>
        )}
        {chats.isSuccess && rows.length === 0 && <p className="list-note">{t("list.empty")}</p>}
        <div role="listbox" aria-label={t("list.title")} tabIndex={0} onKeyDown={onKeyDown} className="listbox"
          aria-activedescendant={selectedIndex >= 0 ? `conv-${rows[selectedIndex].id}` : undefined}
          style={{ height: virtualizer.getTotalSize() }}>
          {items.map((item) => {
            const row = rows[item.index];
            const style = { transform: `translateY(${item.start}px)`, height: ROW_HEIGHT };
            if (!row) {
              return <div key="more" className="conv-row conv-loading" style={style} aria-hidden="true">{t("list.loadingMore")}</div>;
            }
            return (
              <ConversationRow key={row.id} row={row} selected={row.id === selectedId} style={style}
                position={item.index + 1} setSize={hasNextPage ? -1 : rows.length} onSelect={onSelect}
                query={filters.q} />
            );
          })}
        </div>
      </div>
    </section>
  );
}

const ConversationRow = memo(function ConversationRow({ row, selected, style, position, setSize, onSelect, query }: {
  row: ChatSummary; selected: boolean; style: React.CSSProperties; position: number; setSize: number;
  onSelect: (id: string, messageId?: number) => void; query: string;
}) {
  const { t, lang } = useI18n();
  const now = useNow(30_000);
  const online = isOnline([row.last_inbound_at], now);
  const tag = activeTag(row.tags);
  return (
    <div id={`conv-${row.id}`} role="option" aria-selected={selected} aria-posinset={position}
      aria-setsize={setSize} className={`conv-row${selected ? " is-selected" : ""}${row.unread_count ? " is-unread" : ""}`}
      style={{ ...style, borderLeftColor: channelColor(row.channel_source) }} data-channel={row.channel_source}
      onClick={() => onSelect(row.id, row.match?.message_id)}>
      <Avatar name={row.display_name} online={online} />
      <div className="conv-main">
        <div className="conv-line">
          <span className="conv-name">{row.display_name}</span>
          <time className="conv-date" dateTime={row.timestamp}>{formatListDate(row.timestamp, lang, new Date(now))}</time>
        </div>
        <div className="conv-line">
          {row.match ? (
            // Found by a message: that message's words, the searched ones marked.
            <span className="conv-preview conv-match" title={t("list.foundInMessage")}>
              {highlightParts(row.match.excerpt, query).map((p, i) => (p.hit ? <mark key={i}>{p.text}</mark> : p.text))}
            </span>
          ) : (
            <span className="conv-preview">{row.last_message || t("list.noMessages")}</span>
          )}
          {row.unread_count > 0 && (
            <span className="badge" aria-label={t("list.unread", { n: row.unread_count })}>{row.unread_count > 99 ? "99+" : row.unread_count}</span>
          )}
        </div>
        <div className="conv-meta">
          <span className="channel-name" style={{ color: channelColor(row.channel_source) }}>
            {t(`channel.${row.channel_source}` as MessageKey) || row.channel_source}
          </span>
          {tag && <TagChip tag={tag} />}
          {row.is_locked && (
            <span className="human-mark" role="img" aria-label={t("list.human")} title={t("list.human")}><HandIcon width={13} height={13} /></span>
          )}
        </div>
      </div>
    </div>
  );
});
