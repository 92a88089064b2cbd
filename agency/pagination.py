# Kept apart from agency.api: DRF imports the pagination class while it is itself importing
# viewsets, so this module must not import rest_framework.viewsets.
from rest_framework import pagination


class DefaultPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200
