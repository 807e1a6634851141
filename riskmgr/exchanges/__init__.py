"""Exchange adapters behind one interface (base.ExchangeAdapter)."""
