using System.Net;
using System.Text.RegularExpressions;
using AgentRuns.EndToEnd.Tests.Support;

namespace AgentRuns.EndToEnd.Tests;

/// <summary>The public guide's complete example, unchanged but for API_BASE and API_KEY, against the local host.</summary>
public sealed partial class GuideExampleTests(LocalHostFixture fixture) : IClassFixture<LocalHostFixture>
{
    [Theory]
    [InlineData("yes", "approve", "run.worker.succeeded", "succeeded")]
    [InlineData("no", "reject", "run.worker.failed", "failed")]
    public async Task TheGuidesTypeScriptExample_WorksUnchanged(string answer, string action, string endEvent, string status)
    {
        var run = await GuideClient.RunAsync(fixture.Host, answer);

        var transcript = $"{run.Output}\n--- stderr ---\n{run.Errors}\n--- host ---\n{fixture.Host.Output}";
        Assert.True(run.ExitCode == 0, transcript);
        var runId = RunCreated().Match(run.Output).Groups["id"].Value;
        Assert.False(string.IsNullOrEmpty(runId), transcript);
        Assert.Contains("[run.created] seq=1", run.Output, StringComparison.Ordinal);
        Assert.Contains("[run.awaiting_input] seq=", run.Output, StringComparison.Ordinal);
        Assert.Contains("Approve? (yes/no): ", run.Output, StringComparison.Ordinal);
        Assert.Contains($"Signal sent: {action}", run.Output, StringComparison.Ordinal);
        Assert.Contains($"Run ended: {endEvent}", run.Output, StringComparison.Ordinal);

        // Every event was printed once, in order.
        var printed = SeqLine().Matches(run.Output).Select(m => long.Parse(m.Groups["seq"].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(Enumerable.Range(1, printed.Count).Select(i => (long)i), printed);

        var stored = await fixture.Host.Http.WaitForStatusAsync(runId, status);
        Assert.Equal(HttpStatusCode.OK, stored.Status);
        var events = await fixture.Host.Http.EventsAsync(runId);
        Assert.Equal(printed.Count, events.Count);
        Assert.Contains(events, e => e.GetProperty("type").GetString() == "run.signal_received"
            && e.GetProperty("payload").GetProperty("value").GetProperty("action").GetString() == action);
    }

    [GeneratedRegex(@"Run created: (?<id>run_[0-9a-z]{26})")]
    private static partial Regex RunCreated();

    // Not anchored at the line start: an event printed while the readline prompt waits follows the prompt on its line.
    [GeneratedRegex(@"\[run\.[a-z_.]+\] seq=(?<seq>\d+)$", RegexOptions.Multiline)]
    private static partial Regex SeqLine();
}
