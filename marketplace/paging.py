"""The API side of pagination: a view hands the page flask-smorest parsed to a service's list
function and reports the total in the X-Pagination header."""

from marketplace.accounts.auth import current_actor
from marketplace.extensions import db


def paged(pagination_parameters, list_function, *args):
    """``list_function(db.session, current_actor(), *args, page=, page_size=)`` -> its rows,
    with the total handed to flask-smorest for the X-Pagination header."""
    rows, total = list_function(
        db.session,
        current_actor(),
        *args,
        page=pagination_parameters.page,
        page_size=pagination_parameters.page_size,
    )
    pagination_parameters.item_count = total
    return rows
