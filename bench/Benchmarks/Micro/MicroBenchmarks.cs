using System.Net.ServerSentEvents;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Runs;
using AgentRuns.Functions.Security;
using AgentRuns.Functions.Storage;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Options;

namespace AgentRuns.Benchmarks.Micro;

/// <summary>Masking secrets in a submitted payload (every signal with a payload, every run output).</summary>
[MemoryDiagnoser]
public class RedactionBenchmarks
{
    private const string WithSecrets = """
        {"recipients":["team@example.com","lead@example.com"],"smtp":{"host":"mail.example.com","port":587,"username":"bot",
        "password":"hunter2","api_key":"k-123"},"notes":[{"text":"ship it","accessToken":"t-456"},{"text":"thanks"}],
        "subject":"Weekly team update","draft_id":"d-789"}
        """;

    private const string Clean = """
        {"recipients":["team@example.com","lead@example.com"],"smtp":{"host":"mail.example.com","port":587,"username":"bot"},
        "notes":[{"text":"ship it"},{"text":"thanks"}],"subject":"Weekly team update","draft_id":"d-789"}
        """;

    private readonly PayloadRedactor _redactor = new(Options.Create(new SecurityOptions()));

    [Benchmark(Description = "PayloadRedactor.Redact, 3 secrets in 0.3 KB")]
    public RedactedJson RedactWithSecrets() => _redactor.Redact(WithSecrets);

    [Benchmark(Description = "PayloadRedactor.Redact, no secret in 0.3 KB")]
    public RedactedJson RedactClean() => _redactor.Redact(Clean);
}

/// <summary>A new run id (every create).</summary>
[MemoryDiagnoser]
public class RunIdBenchmarks
{
    private readonly DateTimeOffset _now = DateTimeOffset.UtcNow;

    [Benchmark(Description = "RunIds.New")]
    public string NewId() => RunIds.New(_now);
}

/// <summary>What the stream does per event: map the stored row, serialize it, frame it as SSE.</summary>
[MemoryDiagnoser]
public class EventStreamBenchmarks : IDisposable
{
    private readonly Azure.Data.Tables.TableEntity _row = RunRows.ToEntity("tenant", "run_0zzzzzzzzzabcdefghjkmnpqrs", new RunEvent(
        4,
        RunEventTypes.AwaitingInput,
        new DateTimeOffset(2026, 11, 25, 16, 0, 0, TimeSpan.Zero),
        false,
        """
        {"request_id":"8d3c2a7e-6f7b-4c1e-9a55-2f4b8f7e0c11","reason_code":"AWAITING_APPROVAL","input_kind":"approval",
        "prompt":"Approve carrying out: Draft and send the weekly team update email.","allowed_actions":["approve","reject","submit_input"],
        "expires_at":"2026-11-25T17:00:00.000Z","proposed_action":{"tool":"execute","description":"Draft and send the weekly team update email."}}
        """));

    private readonly MemoryStream _buffer = new();
    private RunEventResource _resource = null!;
    private string _json = "";

    [GlobalSetup]
    public void Setup()
    {
        _resource = RunMapper.ToResource(RunRows.ToEvent(_row));
        _json = ApiJson.Serialize(_resource);
    }

    [Benchmark(Description = "RunRows.ToEvent + RunMapper.ToResource (row → event)")]
    public RunEventResource Map() => RunMapper.ToResource(RunRows.ToEvent(_row));

    [Benchmark(Description = "ApiJson.Serialize (event → JSON)")]
    public string Serialize() => ApiJson.Serialize(_resource);

    [Benchmark(Description = "SseFormatter.WriteAsync (one frame)")]
    public Task Frame()
    {
        _buffer.SetLength(0);
        return SseFormatter.WriteAsync(One(_json), _buffer);
    }

    [Benchmark(Description = "row → SSE frame (all three)")]
    public Task RowToFrame()
    {
        _buffer.SetLength(0);
        return SseFormatter.WriteAsync(One(ApiJson.Serialize(RunMapper.ToResource(RunRows.ToEvent(_row)))), _buffer);
    }

    public void Dispose()
    {
        _buffer.Dispose();
        GC.SuppressFinalize(this);
    }

    private static async IAsyncEnumerable<SseItem<string>> One(string json)
    {
        yield return new SseItem<string>(json, "run_event") { EventId = "4" };
        await Task.CompletedTask;
    }
}

/// <summary>Hashes on every authenticated request (the API key) and every keyed POST (the idempotency fingerprint).</summary>
[MemoryDiagnoser]
public class RequestHashBenchmarks
{
    private readonly byte[] _body = """{"action":"approve"}"""u8.ToArray();

    [Benchmark(Description = "ApiKeyStore.Hash (per request)")]
    public string KeyHash() => ApiKeyStore.Hash("ark_dev_local_only_do_not_use_in_azure");

    [Benchmark(Description = "IdempotencyStore.Fingerprint (per keyed POST)")]
    public string Fingerprint() => AgentRuns.Functions.Idempotency.IdempotencyStore.Fingerprint(_body);
}
