using System.Text.RegularExpressions;
using AgentRuns.Functions.Tests.Support;
using static AgentRuns.Functions.Tests.Support.RunAssertions;

namespace AgentRuns.Functions.Tests.Integration;

/// <summary>Every request of the public awaiting-input guide, sent to the HTTP functions as the guide sends it.</summary>
public sealed class GuideFlowTests
{
    private const string GuideCreate = """{"input":{"goal":"Draft and send the weekly team update email."}}""";

    private static Dictionary<string, string> GuideHeaders(ApiClient api) => new()
    {
        ["Authorization"] = $"Bearer {api.Key}",
        ["Content-Type"] = "application/json",
        ["Idempotency-Key"] = Guid.NewGuid().ToString(),
    };

    [Fact]
    public async Task GuideGoal_PausesForApproval_ThenSucceedsAfterApprove()
    {
        var api = (await RunsTestHost.GetAsync()).Api;

        var created = await api.PostAsync("/v1/runs", GuideCreate, GuideHeaders(api));
        Assert.Equal(201, created.Status);
        var runId = created.Json.GetProperty("id").GetString()!;
        Assert.StartsWith("run_", runId, StringComparison.Ordinal);
        Assert.Equal($"/v1/runs/{runId}", created.Headers.Location.ToString());
        Assert.Equal("run", created.Json.GetProperty("object").GetString());
        Assert.Equal("Draft and send the weekly team update email.", created.Json.GetProperty("input").GetProperty("goal").GetString());

        var awaiting = await api.WaitForEventAsync(runId, "run.awaiting_input");
        var value = Value(awaiting);
        Assert.Equal("AWAITING_APPROVAL", value.GetProperty("reason_code").GetString());
        Assert.Equal("approval", value.GetProperty("input_kind").GetString());
        Assert.True(Guid.TryParse(value.GetProperty("request_id").GetString(), out _));
        Assert.False(awaiting.GetProperty("payload").GetProperty("redacted").GetBoolean());
        Assert.Matches(new Regex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"), awaiting.GetProperty("timestamp").GetString());

        var waiting = await api.WaitForStatusAsync(runId, "awaiting_input");
        var pending = waiting.GetProperty("pending_input");
        Assert.Equal(value.GetProperty("request_id").GetString(), pending.GetProperty("request_id").GetString());
        Assert.Contains("approve", pending.GetProperty("allowed_actions").EnumerateArray().Select(a => a.GetString()));

        var signal = await api.PostAsync($"/v1/runs/{runId}/signal", """{ "action": "approve" }""", GuideHeaders(api));
        Assert.Equal(202, signal.Status);
        Assert.Equal(runId, signal.Json.GetProperty("run_id").GetString());
        Assert.Equal("approve", signal.Json.GetProperty("action").GetString());
        Assert.Equal("accepted", signal.Json.GetProperty("status").GetString());
        Assert.Equal(value.GetProperty("request_id").GetString(), signal.Json.GetProperty("request_id").GetString());

        var events = await api.WaitForEndAsync(runId);
        Assert.Equal(
            ["run.created", "run.started", "run.worker.progress", "run.awaiting_input", "run.signal_received", "run.worker.progress", "run.worker.succeeded"],
            Types(events));

        var run = (await api.GetAsync($"/v1/runs/{runId}")).Json;
        Assert.Equal("succeeded", run.GetProperty("status").GetString());
        Assert.Equal(7, run.GetProperty("last_event_seq").GetInt64());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, run.GetProperty("pending_input").ValueKind);
        Assert.Contains("weekly team update", run.GetProperty("output").GetProperty("summary").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GuideReject_FailsTheRunWithTheGivenReason()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(GuideCreate);
        await api.WaitForEventAsync(runId, "run.awaiting_input");

        var signal = await api.PostAsync($"/v1/runs/{runId}/signal", """
            {
              "action": "reject",
              "payload": {
                "reason": "This action would email the wrong distribution list."
              }
            }
            """, GuideHeaders(api));
        Assert.Equal(202, signal.Status);

        var events = await api.WaitForEndAsync(runId);
        var failed = events[^1];
        Assert.Equal("run.worker.failed", Type(failed));
        Assert.Equal("rejected", Value(failed).GetProperty("reason_code").GetString());
        Assert.Equal("This action would email the wrong distribution list.", Value(failed).GetProperty("reason").GetString());
        var run = (await api.GetAsync($"/v1/runs/{runId}")).Json;
        Assert.Equal("failed", run.GetProperty("status").GetString());
        Assert.Equal("rejected", run.GetProperty("error").GetProperty("reason_code").GetString());
    }

    [Fact]
    public async Task GuideSubmitInput_ContinuesWithThePayloadAsInput()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(GuideCreate);
        await api.WaitForEventAsync(runId, "run.awaiting_input");

        var signal = await api.PostAsync($"/v1/runs/{runId}/signal", """
            {
              "action": "submit_input",
              "payload": {
                "recipient": "team-leads@company.com",
                "subject": "Q1 Summary",
                "additional_context": "Only include announcements from March."
              }
            }
            """, GuideHeaders(api));
        Assert.Equal(202, signal.Status);

        var events = await api.WaitForEndAsync(runId);
        Assert.Equal("run.worker.succeeded", Type(events[^1]));
        var received = Value(events.Single(e => Type(e) == "run.signal_received"));
        Assert.Equal("submit_input", received.GetProperty("action").GetString());
        Assert.Equal("Q1 Summary", received.GetProperty("payload").GetProperty("subject").GetString());
        var output = Value(events[^1]).GetProperty("output");
        Assert.Equal("team-leads@company.com", output.GetProperty("human_inputs")[0].GetProperty("recipient").GetString());
    }

    [Fact]
    public async Task GuideErrors_AnswerWithTheGuidesReasonCodes()
    {
        var api = (await RunsTestHost.GetAsync()).Api;

        var notFound = await api.PostAsync("/v1/runs/run_abc123/signal", """{"action":"approve"}""", GuideHeaders(api));
        Assert.Equal(404, notFound.Status);
        Assert.Equal("run_not_found", notFound.ReasonCode);
        Assert.Equal("application/problem+json", notFound.ContentType);

        var runId = await api.CreateRunAsync(GuideCreate);
        await api.WaitForEventAsync(runId, "run.awaiting_input");
        var invalid = await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve_all"}""", GuideHeaders(api));
        Assert.Equal(400, invalid.Status);
        Assert.Equal("invalid_signal_type", invalid.ReasonCode);

        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""", GuideHeaders(api))).Status);
        var again = await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""", GuideHeaders(api));
        Assert.Equal(409, again.Status);
        Assert.Equal("run_not_awaiting_input", again.ReasonCode);
        AssertLogIsSound(await api.WaitForEndAsync(runId));
    }
}
