"""The API side of pagination: a view hands the page flask-smorest parsed to a service's list
function and reports the total in the X-Pagination header. Every list view goes through it."""


def paged(pagination_parameters, list_function, *args, **kwargs):
    """``list_function(*args, page=, page_size=, **kwargs)`` -> its rows, with the total it
    returns beside them handed to flask-smorest for the X-Pagination header."""
    rows, total = list_function(
        *args,
        page=pagination_parameters.page,
        page_size=pagination_parameters.page_size,
        **kwargs,
    )
    pagination_parameters.item_count = total
    return rows
