"""The Stock News API's endpoints, as paths under its base URL (shared/reference/stock-news-api.md)."""

DEFAULT_BASE_URL = "https://stocknewsapi.com/api/v1"
NEWS_PATH = ""  # news for one or more tickers: GET /api/v1?tickers=...
CATEGORY_PATH = "/category"  # every ticker's news (paid plans): GET /api/v1/category?section=alltickers
TICKERS_DB_PATH = "/account/tickersdbv2"  # supported tickers
MAX_ITEMS_PER_PAGE = 50
