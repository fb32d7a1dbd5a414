"""OpenTelemetry, set up once for every service; trace context travels in NATS headers.

Spans are exported over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set and the OTLP exporter
package is installed, to the console when `LEDGER_OTEL_CONSOLE=1`, and nowhere otherwise (then
spans are not recorded at all, which costs next to nothing, but trace ids still travel).
Span attributes carry stream, kind and sequence, never a learner's identity.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased

log = logging.getLogger(__name__)

_configured = False
_recording = False


def setup_telemetry(service: str) -> None:
    global _configured, _recording
    if _configured:
        return
    exporter = _exporter()
    # With nowhere to send spans, none is recorded; trace ids are still made and carried in
    # NATS headers, so logs and downstream services keep the request's trace.
    sampler = ParentBased(ALWAYS_ON if exporter is not None else ALWAYS_OFF)
    provider = TracerProvider(resource=Resource.create({"service.name": service}), sampler=sampler)
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
        _recording = True
    trace.set_tracer_provider(provider)
    _configured = True


def _exporter() -> SpanExporter | None:
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        try:
            module = importlib.import_module(
                "opentelemetry.exporter.otlp.proto.http.trace_exporter"
            )
            exporter: SpanExporter = module.OTLPSpanExporter()
            return exporter
        except ImportError:
            log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but the OTLP exporter is not installed")
    if os.environ.get("LEDGER_OTEL_CONSOLE") == "1":
        return ConsoleSpanExporter()
    return None


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def span(
    tracer_: trace.Tracer, name: str, **kwargs: Any
) -> AbstractContextManager[trace.Span | None]:
    """A span on a hot path (every append): nothing at all when spans are not recorded, so
    the trace context in force is the caller's, and that is what travels in the headers."""
    if not _recording:
        return nullcontext()
    return tracer_.start_as_current_span(name, **kwargs)


def current_trace_headers() -> dict[str, str]:
    """W3C trace context of the current span, to put in the headers of what we publish."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def context_from_headers(headers: Mapping[str, str] | None) -> Context:
    """The trace context a message was published under, to continue its trace."""
    return propagate.extract(dict(headers or {}))
