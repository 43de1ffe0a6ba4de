"""Why tests of aiohttp's tests/test_client_functional.py fail with aioxide.http's client
in place of aiohttp's (the aiohttp-client suite of run.py), and the report of a run.

Each failure only with aioxide.http is in ``GAPS`` (test name -> category, reason) or it
is unexplained. The ``bug`` category lists failures that are aioxide.http's to fix: they
are in the report with their diagnosis, and they still fail the run.
"""

from __future__ import annotations

from pathlib import Path

CATEGORIES = {
    "internals": "uses aiohttp's internals (aiohttp.client_reqrep, aiohttp.connector, "
                 "private attributes such as connector._conns, mock-patched private methods)",
    "not yet": "a feature docs/http.md lists as not there yet (websockets and connection "
               "upgrades)",
    "difference": "a difference docs/http.md states (User-Agent, streamed bodies chunked) "
                  "or one kept on purpose",
    "aiohttp-specific": "pins aiohttp's own warnings, deprecations, log lines, messages or "
                        "class names rather than behaviour",
    "other API": "an aiohttp API aioxide.http does not have that docs/http.md does not list "
                 "(aiohttp.payload objects as data, UploadTracker, 3.14's new parameters)",
    "knock-on": "fails only in the full run, from what an earlier failing test left behind "
                "in the same worker (passes alone)",
    "bug": "a bug in aioxide.http (fails the run)",
}

# test function name -> (category, reason)
INTERNALS, NOT_YET, DIFFERENCE, AIOHTTP_TEXT, OTHER_API, KNOCK_ON, BUG = CATEGORIES
GAPS: dict[str, tuple[str, str]] = {
    # aiohttp's internals
    "test_sock_read_timeout_not_rearmed_on_pooled_connection": (
        INTERNALS, "reads connector._conns"),
    "test_release_early": (
        INTERNALS, "expects resp.closed before any read, then counts connector._conns"),
    "test_stream_request_on_server_eof_nested": (INTERNALS, "reads connector._acquired"),
    "test_handle_keepalive_on_closed_connection": (
        INTERNALS, "counts connector._conns (and uses the connector as `async with`)"),
    "test_post_connection_cleanup_with_file": (INTERNALS, "counts connector._conns"),
    "test_post_content_exception_connection_kept": (INTERNALS, "counts connector._conns"),
    "test_client_side_network_error_connection_closed": (
        INTERNALS, "closes resp.connection.protocol.transport, counts connector._conns"),
    "test_GET_DEFLATE": (INTERNALS, "mock-patches aiohttp.client_reqrep.ClientRequest.write_bytes"),
    "test_connection_timeout_error": (
        INTERNALS, "mock-patches session._connector.connect to raise TimeoutError"),
    "test_raising_client_connector_dns_error_on_dns_failure": (
        INTERNALS, "mock-patches aiohttp.connector.TCPConnector._resolve_host"),
    "test_file_upload_retry_persistent_connection": (
        INTERNALS, "sets the private session._retry_connection (retry on a fresh connection)"),
    "test_redirect_cookie_storage_is_bounded": (
        INTERNALS, "reads aiohttp.cookiejar's limits and jar._morsel_cache (aioxide.http's jar "
        "and Cookie header are bounded too: test_cookie_storage_and_header_are_bounded)"),
    "test_amazon_like_cookie_scenario": (
        INTERNALS, "reads the private ClientResponse._raw_cookie_headers (the jar holds all 12 "
        "cookies)"),
    # not there yet (docs/http.md)
    "test_upgrade_connection_not_released_after_read": (
        NOT_YET, "101 Switching Protocols keeps the connection for the caller (upgrades, "
        "websockets)"),
    # differences
    "test_auto_header_user_agent": (DIFFERENCE, "the default User-Agent is aioxide's"),
    # aiohttp's own texts and warnings
    "test_aiohttp_request_coroutine": (
        AIOHTTP_TEXT, "matches aiohttp's class name _SessionRequestContextManager and awaits its "
        "_coro"),
    "test_POST_bytes_too_large": (
        AIOHTTP_TEXT, "aiohttp's ResourceWarning for a bytes body over 1 MiB"),
    "test_chunked_deprecated": (AIOHTTP_TEXT, "aiohttp's DeprecationWarning for chunked=<int>"),
    "test_ssl_client_shutdown_timeout": (
        AIOHTTP_TEXT, "aiohttp's DeprecationWarning for ssl_shutdown_timeout"),
    "test_set_cookies": (AIOHTTP_TEXT, "aiohttp's log line 'Can not load cookies: ...'"),
    "test_exception_when_read_outside_of_session": (
        AIOHTTP_TEXT, "aiohttp's RuntimeError('Connection closed') for a read after the session "
        "closed; aioxide.http raises ClientPayloadError"),
    # aiohttp APIs aioxide.http does not have
    "test_POST_FILES_IO": (OTHER_API, "data as a list of file objects (aiohttp makes a form)"),
    "test_POST_FILES_IO_WITH_PARAMS": (
        OTHER_API, "data as a tuple of pairs, a MultiDict and a file"),
    "test_stream_reader_total_raw_bytes": (OTHER_API, "StreamReader.total_raw_bytes"),
    "test_deprecated_upload_attributes": (
        OTHER_API, "ClientResponse.output_size/upload_complete (and it waits for the whole "
        "request body before returning the response)"),
    "test_upload_complete_deprecated_late_access": (OTHER_API, "ClientResponse.upload_complete"),
    "test_POST_FILES_SINGLE_content_disposition": (
        OTHER_API, "aiohttp.payload objects (or aiohttp.streamer) as data"),
    "test_POST_STREAM_DATA": (OTHER_API, "aiohttp.payload objects (or aiohttp.streamer) as data"),
    "test_POST_STREAM_DATA_no_params": (
        OTHER_API, "aiohttp.payload objects (or aiohttp.streamer) as data"),
    "test_post_data_textio_encoding": (
        OTHER_API, "aiohttp.payload objects (or aiohttp.streamer) as data"),
    "test_post_custom_payload_without_content_length": (
        OTHER_API, "aiohttp.payload objects (or aiohttp.streamer) as data"),
    "test_bytes_payload_redirect": (
        OTHER_API, "aiohttp.payload objects (or aiohttp.streamer) as data"),
    "test_string_payload_redirect": (
        OTHER_API, "aiohttp.payload objects (or aiohttp.streamer) as data"),
    "test_async_iterable_payload_redirect": (
        OTHER_API, "aiohttp.payload objects (or aiohttp.streamer) as data"),
    "test_async_iterable_payload_redirect_non_post_301_302": (
        OTHER_API, "aiohttp.payload objects (or aiohttp.streamer) as data"),
    "test_buffered_reader_payload_redirect": (
        OTHER_API, "aiohttp.payload objects (or aiohttp.streamer) as data"),
    "test_string_io_payload_redirect": (
        OTHER_API, "aiohttp.payload objects (or aiohttp.streamer) as data"),
    "test_bytes_io_payload_redirect": (
        OTHER_API, "aiohttp.payload objects (or aiohttp.streamer) as data"),
    "test_multiple_redirects_with_bytes_payload": (
        OTHER_API, "aiohttp.payload objects (or aiohttp.streamer) as data"),
    "test_redirect_with_empty_payload": (
        OTHER_API, "aiohttp.payload objects (or aiohttp.streamer) as data"),
    "test_redirect_preserves_content_type": (
        OTHER_API, "aiohttp.payload objects (or aiohttp.streamer) as data"),
    "test_non_http_redirect_closes_payload": (
        OTHER_API, "aiohttp.payload objects (or aiohttp.streamer) as data"),
    "test_invalid_redirect_origin_closes_payload": (
        OTHER_API, "aiohttp.payload objects (or aiohttp.streamer) as data"),
    "test_too_many_redirects_closes_payload": (
        OTHER_API, "aiohttp.payload objects (or aiohttp.streamer) as data"),
    "test_invalid_url_redirect_closes_payload": (
        OTHER_API, "aiohttp.payload objects (or aiohttp.streamer) as data"),
    "test_request_body_closed_on_server_disconnect": (
        OTHER_API, "aiohttp.payload objects (or aiohttp.streamer) as data"),
    "test_request_body_closed_on_cancellation": (
        OTHER_API, "aiohttp.payload objects (or aiohttp.streamer) as data"),
    "test_upload_tracker_bytes": (OTHER_API, "aiohttp.UploadTracker (request(upload_tracker=))"),
    "test_upload_tracker_multipart": (
        OTHER_API, "aiohttp.UploadTracker (request(upload_tracker=))"),
    "test_upload_tracker_progress": (OTHER_API, "aiohttp.UploadTracker (request(upload_tracker=))"),
    "test_upload_tracker_no_body": (OTHER_API, "aiohttp.UploadTracker (request(upload_tracker=))"),
    "test_upload_tracker_expect100": (
        OTHER_API, "aiohttp.UploadTracker (request(upload_tracker=))"),
    "test_upload_tracker_redirect_resends_body": (
        OTHER_API, "aiohttp.UploadTracker (request(upload_tracker=))"),
    "test_upload_tracker_redirect_drops_body": (
        OTHER_API, "aiohttp.UploadTracker (request(upload_tracker=))"),
    "test_upload_tracker_redirect_to_unreachable_host": (
        OTHER_API, "aiohttp.UploadTracker (request(upload_tracker=))"),
    "test_upload_tracker_settles_after_early_response": (
        OTHER_API, "aiohttp.UploadTracker (request(upload_tracker=))"),
    "test_upload_tracker_error_after_response": (
        OTHER_API, "aiohttp.UploadTracker (request(upload_tracker=))"),
    "test_upload_tracker_upload_error_propagated_to_caller": (
        OTHER_API, "aiohttp.UploadTracker (request(upload_tracker=))"),
    "test_upload_tracker_connect_error": (
        OTHER_API, "aiohttp.UploadTracker (request(upload_tracker=))"),
    "test_upload_tracker_request_cancelled": (
        OTHER_API, "aiohttp.UploadTracker (request(upload_tracker=))"),
    "test_upload_tracker_rebind_raises": (
        OTHER_API, "aiohttp.UploadTracker (request(upload_tracker=))"),
    "test_upload_tracker_non_http_scheme": (
        OTHER_API, "aiohttp.UploadTracker (request(upload_tracker=))"),
    "test_upload_tracker_trace_start_failure": (
        OTHER_API, "aiohttp.UploadTracker (request(upload_tracker=))"),
    "test_upload_tracker_validation_failure": (
        OTHER_API, "aiohttp.UploadTracker (request(upload_tracker=))"),
    "test_upload_tracker_closed_session": (
        OTHER_API, "aiohttp.UploadTracker (request(upload_tracker=))"),
    "test_upload_tracker_invalid_proxy": (
        OTHER_API, "aiohttp.UploadTracker (request(upload_tracker=))"),
    "test_upload_tracker_compressed_body": (
        OTHER_API, "aiohttp.UploadTracker (request(upload_tracker=))"),
    "test_upload_tracker_middleware_short_circuit": (
        OTHER_API, "aiohttp.UploadTracker (request(upload_tracker=)), with middlewares"),
    "test_upload_tracker_middleware_resend": (
        OTHER_API, "aiohttp.UploadTracker (request(upload_tracker=)), with middlewares"),
    # knock-on
    "test_error_in_performing_request": (
        KNOCK_ON, "ResourceWarning at teardown for a socket an earlier failing test in the "
        "worker left open (test_handle_keepalive_on_closed_connection's server)"),
}


def name_of(test: str) -> str:
    """The test function's name in a test id."""
    return test.rpartition("::")[2].partition("[")[0]


def excuse(test: str) -> str | None:
    """The reason a failure only with aioxide.http is understood, or None (also for the
    ``bug`` category: those fail the run)."""
    category, reason = GAPS.get(name_of(test), ("bug", ""))
    return None if category == "bug" else f"{category}: {reason}"


def counts(run: dict[str, tuple[str, str]]) -> str:
    """``passed/total passed (N skipped)`` of one run's outcomes."""
    outcomes = [outcome for outcome, _ in run.values()]
    return (f"{outcomes.count('passed')}/{len(outcomes)} passed "
            f"({outcomes.count('skipped')} skipped, {outcomes.count('failed')} failed)")


def write_report(path: Path, runs: dict[str, dict[str, tuple[str, str]]]) -> None:
    """``path``: passed/total of each run, then the failures only with aioxide.http by
    category, with the reason or the error; the category counts are printed too."""
    ref, ax = runs["aiohttp"], runs["aioxide.http"]
    only = sorted(t for t, (outcome, _) in ax.items()
                  if outcome == "failed" and ref.get(t, ("passed", ""))[0] != "failed")
    lines = ["# aiohttp's tests/test_client_functional.py with aioxide.http's client", ""]
    lines += [f"- {client}'s ClientSession: {counts(run)}" for client, run in runs.items()]
    lines += ["", f"{len(only)} fail only with aioxide.http.", ""]
    grouped: dict[str, list[str]] = {}
    for test in only:
        category = GAPS.get(name_of(test), ("unexplained", ""))[0]
        grouped.setdefault(category, []).append(test)
    for category in [*CATEGORIES, "unexplained"]:
        tests = grouped.get(category)
        if not tests:
            continue
        print(f"   {category}: {len(tests)}")
        about = CATEGORIES.get(category, "not in client_gaps.GAPS")
        lines += [f"## {category} ({len(tests)}): {about}", "", "| test | reason | error |",
                  "|---|---|---|"]
        for test in tests:
            reason = GAPS.get(name_of(test), ("", ""))[1]
            error = ax[test][1].replace("|", "\\|")
            lines.append(f"| `{test.partition('::')[2]}` | {reason} | {error} |")
        lines.append("")
    path.write_text("\n".join(lines))
    print(f"   the table: {path}")
