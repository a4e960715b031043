"""The flask-smorest Blueprint every domain's API is declared with.

webargs builds a new instance of an argument schema class on every request, and marshmallow
deep-copies all the schema's fields each time it builds one: on the storefront list that was a
tenth of a millisecond per request for nothing. Argument schemas hold no per-request state, so
one instance per class serves every request; the OpenAPI document is unchanged (it is built
from the classes given to the decorators).
"""

import functools

import flask_smorest
import marshmallow as ma
from webargs.flaskparser import FlaskParser


@functools.cache
def _shared_instance(schema_class: type[ma.Schema]) -> ma.Schema:
    return schema_class()


class _SchemaReusingParser(FlaskParser):
    def _get_schema(self, argmap, req):
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            return _shared_instance(argmap)
        return super()._get_schema(argmap, req)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = _SchemaReusingParser()
    PAGINATION_ARGUMENTS_PARSER = _SchemaReusingParser()
