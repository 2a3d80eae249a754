"""Several OS processes writing one store at once: all succeed (lock retry) and nothing is lost."""

from __future__ import annotations

import multiprocessing

from jengu_pipeline.store import CrmStore, open_store

WRITES_PER_PROCESS = 40


def write_activities(url: str, worker: int) -> None:
    store = open_store(url)
    for n in range(WRITES_PER_PROCESS):
        store.add_activity("note", f"worker {worker} write {n}", metadata={"worker": worker, "n": n})
        store.reserve_quota("shared", 1, daily_limit=10_000)


def test_processes_write_concurrently_and_lose_nothing(store: CrmStore, store_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=write_activities, args=(store_url, w)) for w in range(3)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
    assert [p.exitcode for p in workers] == [0, 0, 0]
    assert store.count("activities") == 3 * WRITES_PER_PROCESS
    assert store.quota_used("shared") == 3 * WRITES_PER_PROCESS
    titles = store.query("SELECT title FROM activities")["title"].to_list()
    assert len(set(titles)) == 3 * WRITES_PER_PROCESS


def test_threads_of_one_process_share_the_store_safely(store: CrmStore) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def reserve(_: int) -> bool:
        return store.reserve_quota("threads", 1, daily_limit=25)

    with ThreadPoolExecutor(max_workers=8) as pool:
        granted = list(pool.map(reserve, range(40)))
    assert granted.count(True) == 25
    assert store.quota_used("threads") == 25
