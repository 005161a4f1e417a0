using AgentRuns.Functions.Tests.Support;
using static AgentRuns.Functions.Tests.Support.RunAssertions;

namespace AgentRuns.Functions.Tests.Integration;

/// <summary>Secrets in submitted input never reach the event log, the run record or the logs in clear.</summary>
public sealed class RedactionTests
{
    [Fact]
    public async Task SecretLookingFields_AreMaskedInTheLogAndTheRun_AndNeverLogged()
    {
        var api = await (await RunsTestHost.GetAsync()).NewTenantAsync();
        var runId = await api.CreateRunAsync(Plan("""{"type":"data","prompt":"Credentials for the mail server?"}"""));
        await api.WaitForEventAsync(runId, "run.awaiting_input");

        var signal = await api.PostAsync($"/v1/runs/{runId}/signal", """
            {"action":"submit_input","payload":{"user":"ops","password":"hunter2-secret","API-Key":"k-1234567","nested":{"db_token":"t0k3n-value"},"note":"fine"}}
            """);
        Assert.Equal(202, signal.Status);
        var events = await api.WaitForEndAsync(runId);

        var received = events.Single(e => Type(e) == "run.signal_received");
        Assert.True(received.GetProperty("payload").GetProperty("redacted").GetBoolean());
        var payload = Value(received).GetProperty("payload");
        Assert.Equal("[REDACTED]", payload.GetProperty("password").GetString());
        Assert.Equal("[REDACTED]", payload.GetProperty("API-Key").GetString());
        Assert.Equal("[REDACTED]", payload.GetProperty("nested").GetProperty("db_token").GetString());
        Assert.Equal("fine", payload.GetProperty("note").GetString());
        Assert.Equal("ops", payload.GetProperty("user").GetString());

        var succeeded = events[^1];
        Assert.Equal("run.worker.succeeded", Type(succeeded));
        Assert.True(succeeded.GetProperty("payload").GetProperty("redacted").GetBoolean());

        var everything = string.Join("\n", events.Select(e => e.GetRawText()))
            + (await api.GetAsync($"/v1/runs/{runId}")).Body
            + (await api.GetAsync($"/v1/runs/{runId}/events/stream")).Body
            + (await api.GetAsync("/v1/runs?limit=100")).Body;
        var logs = string.Join("\n", CapturingLoggerProvider.Instance.Lines);
        foreach (var secret in new[] { "hunter2-secret", "k-1234567", "t0k3n-value" })
        {
            Assert.DoesNotContain(secret, everything, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, logs, StringComparison.Ordinal);
        }

        Assert.Contains(runId, logs, StringComparison.Ordinal); // the capture does see this run's log lines
        Assert.DoesNotContain(api.Key!, logs, StringComparison.Ordinal);
    }
    [Fact]
    public async Task ApproveWithEdits_SecretLookingEditedArguments_AreMaskedInTheSignalEventAndTheRun()
    {
        var api = await (await RunsTestHost.GetAsync()).NewTenantAsync();
        var runId = await api.CreateRunAsync(Plan("""
            {"type":"approval","prompt":"Connect?","action":{"tool":"connect","arguments":{"user":"ops","password":"[set by the approver]"}},"allow_edits":true}
            """));
        await api.WaitForEventAsync(runId, "run.awaiting_input");

        var approve = await api.PostAsync($"/v1/runs/{runId}/signal", """
            {"action":"approve","payload":{"arguments":{"user":"ops","password":"edited-hunter2","nested":{"api_key":"edited-k-987"}}}}
            """);
        Assert.Equal(202, approve.Status);
        var events = await api.WaitForEndAsync(runId);

        var received = events.Single(e => Type(e) == "run.signal_received");
        Assert.True(received.GetProperty("payload").GetProperty("redacted").GetBoolean());
        var approved = Value(received).GetProperty("approved_arguments");
        Assert.Equal("[REDACTED]", approved.GetProperty("password").GetString());
        Assert.Equal("[REDACTED]", approved.GetProperty("nested").GetProperty("api_key").GetString());
        Assert.Equal("ops", approved.GetProperty("user").GetString());
        Assert.True(Value(received).GetProperty("edited").GetBoolean());

        var everything = string.Join("\n", events.Select(e => e.GetRawText()))
            + (await api.GetAsync($"/v1/runs/{runId}")).Body
            + (await api.GetAsync($"/v1/runs/{runId}/events/stream")).Body;
        var logs = string.Join("\n", CapturingLoggerProvider.Instance.Lines);
        foreach (var secret in new[] { "edited-hunter2", "edited-k-987" })
        {
            Assert.DoesNotContain(secret, everything, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, logs, StringComparison.Ordinal);
        }
    }
}
