# TAP's local AWS: imported by moto_server's Python at start-up through
# PYTHONPATH (internal/motoserver). moto answers exactly as without it; the
# shim only stops moto from redoing, on every request, work whose result
# cannot change. Each patch was found by sampling moto's stacks under the
# two-region twin's load (DESIGN §8.1, "The twin's capacity") and was read
# against moto 5.2.1's code, the pinned version: any other moto runs
# unpatched, merely slower.
#
# TAP_MOTO_SHIM=off starts moto without it, to compare.
import os


def _memoize_jsonpath():
    # moto/events/utils.py (EventTemplateParser.parse) calls
    # jsonpath_ng.ext.parse for each of the eight input paths of every rule
    # target of every event, and jsonpath_ng builds a fresh PLY LALR parser
    # (its yacc tables) on each call: about 140 ms of CPU per delivered
    # event. A parsed path is an expression tree that find() only reads, so
    # each distinct path is parsed once.
    import functools

    import jsonpath_ng.ext as ext

    if not hasattr(ext.parse, "cache_info"):
        ext.parse = functools.lru_cache(maxsize=1024)(ext.parse)


def _memoize_dispatch():
    # moto/moto_server/werkzeug_app.py finds the service of every request
    # with get_backend_for_host, which lists moto's package directory and
    # stats each entry (backends.list_of_moto_modules), then tries every
    # service's URL patterns, all under one lock. Both depend only on the
    # installed moto and the host string, so they are computed once.
    from moto import backends
    from moto.moto_server import werkzeug_app

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules

    app = werkzeug_app.DomainDispatcherApplication
    find = app.get_backend_for_host
    found = {}

    def get_backend_for_host(self, host):
        # Called under the dispatcher's lock: the dict needs no other.
        if host not in found:
            found[host] = find(self, host)
        return found[host]

    app.get_backend_for_host = get_backend_for_host


def _memoize_update_parse():
    # moto/dynamodb parses an UpdateItem's UpdateExpression twice a request
    # (responses.py and models/__init__.py: UpdateExpressionParser.make),
    # a fifth of the request's CPU for the processor's 17-action state
    # update. The tree is only read there, and the validator that rewrites
    # it works on its own deep copy (parsing/validators.py, Validator), so
    # each distinct expression is parsed once.
    import functools

    from moto.dynamodb.parsing import expressions

    parser = expressions.UpdateExpressionParser
    make = parser.make.__func__
    parse = functools.lru_cache(maxsize=1024)(lambda expression: make(parser, expression))
    parser.make = classmethod(lambda cls, expression: parse(expression) if cls is parser else make(cls, expression))


def _quiet_request_log():
    # werkzeug logs a line per request (formatted time, colour handling):
    # a tenth of moto's CPU under load. Errors and tracebacks are still
    # logged; TAP's proxy in front of moto counts every request
    # (motoserver.Server.Calls).
    from werkzeug import serving

    serving.WSGIRequestHandler.log_request = lambda self, code="-", size="-": None


def _query_by_partition():
    # moto/dynamodb/models/table.py, Table.query on the table itself (no
    # index) lists and sorts every item of the table (all_items) and then
    # keeps those of the queried partition key: its cost grows with the
    # table, and the processor queries one order's items. Here all_items,
    # while such a query runs on this thread, returns that partition's items
    # only, sorted the same way; query's own filter on the key still applies.
    import threading

    from moto.dynamodb.models import table as tables

    Table = tables.Table
    all_items, query = Table.all_items, Table.query
    partition = threading.local()

    def partition_items(self):
        key = getattr(partition, "key", None)
        if key is None:
            return all_items(self)
        group = self.items.get(key)  # a defaultdict: get adds nothing
        if group is None:
            return []
        items = list(group.values()) if self.range_key_attr else [group]
        return sorted(
            items,
            key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key,
        )

    def query_partition(self, hash_key, *args, **kwargs):
        # index_name is query's eighth parameter (moto's backend passes it
        # positionally) or a keyword.
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name or hash_key is None:
            return query(self, hash_key, *args, **kwargs)
        partition.key = hash_key
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            partition.key = None

    Table.all_items = partition_items
    Table.query = query_partition


def _pinned_moto():
    import moto

    return moto.__version__ == "5.2.1"


if os.environ.get("TAP_MOTO_SHIM") != "off" and _pinned_moto():
    for _patch in (_memoize_jsonpath, _memoize_dispatch, _memoize_update_parse, _quiet_request_log, _query_by_partition):
        try:
            _patch()
        except Exception:  # not the moto this was written for: leave it as it is
            pass
