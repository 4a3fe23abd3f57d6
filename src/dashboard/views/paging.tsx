import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { useInterval } from "./common.js";

/** One page of a list as the API answers it, and whatever else was fetched with it (the counts). */
export interface Fetched<T, E> {
  items: T[];
  continuationToken: string | undefined;
  extra?: E;
}

export interface PagedList<T, E> {
  /** The page for the current query and position; undefined while it loads. */
  page: { items: T[]; next: string | undefined } | undefined;
  /** The latest `extra`, kept while another query loads. */
  extra: E | undefined;
  error: unknown;
  setError(error: unknown): void;
  /** 1 for the first page. */
  pageNumber: number;
  previous(): void;
  next(): void;
  reload(): Promise<void>;
}

/**
 * A list read a page at a time with continuation tokens. `queryKey` names the query: a new one
 * starts over from the first page, and an answer for another query or page is never shown (only the
 * latest request's answer counts). With `live`, the page is read again 3 s after each answer.
 */
export function usePagedList<T, E = undefined>(queryKey: string, fetchPage: (token: string | undefined) => Promise<Fetched<T, E>>, live: boolean): PagedList<T, E> {
  /** Tokens of the pages up to this one (index 0, the first page, has none). */
  const [paging, setPaging] = useState<{ key: string; tokens: (string | undefined)[] }>({ key: queryKey, tokens: [undefined] });
  const tokens = paging.key === queryKey ? paging.tokens : [undefined];
  const token = tokens[tokens.length - 1];
  const answerKey = `${queryKey}|${tokens.length}`;
  const [answer, setAnswer] = useState<{ key: string; items: T[]; next: string | undefined } | undefined>();
  const [extra, setExtra] = useState<E | undefined>();
  const [error, setError] = useState<unknown>();
  const generation = useRef(0);
  const fetcher = useRef(fetchPage);
  fetcher.current = fetchPage;

  const reload = useCallback(async () => {
    const g = ++generation.current;
    try {
      const p = await fetcher.current(token);
      if (g !== generation.current) return;
      setAnswer({ key: answerKey, items: p.items, next: p.continuationToken });
      if (p.extra !== undefined) setExtra(p.extra);
      setError(undefined);
    } catch (err) {
      if (g === generation.current) setError(err);
    }
  }, [answerKey, token]);
  useEffect(() => void reload(), [reload]);
  useInterval(reload, 3000, live);

  const page = answer?.key === answerKey ? answer : undefined;
  return {
    page,
    extra,
    error,
    setError,
    pageNumber: tokens.length,
    previous: () => setPaging({ key: queryKey, tokens: tokens.slice(0, -1) }),
    next: () => page?.next && setPaging({ key: queryKey, tokens: [...tokens, page.next] }),
    reload,
  };
}

/** Previous / page number / Next, and whatever the list adds (a page-size choice). */
export function Pager({ list, children }: { list: Pick<PagedList<unknown, unknown>, "page" | "pageNumber" | "previous" | "next">; children?: ComponentChildren }) {
  return (
    <div class="pager">
      <button disabled={list.pageNumber <= 1} onClick={list.previous}>
        ← Previous
      </button>
      <span data-testid="page-number">Page {list.pageNumber}</span>
      <button disabled={!list.page?.next} onClick={list.next}>
        Next →
      </button>
      {children}
    </div>
  );
}
