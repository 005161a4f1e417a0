namespace AgentRuns.EndToEnd.Tests.Support;

/// <summary>One local host process shared by a test class, on fresh ports, task hub and tables.</summary>
public sealed class LocalHostFixture : IAsyncLifetime
{
    public LocalHostProcess Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await LocalHostProcess.StartAsync(LocalHostSettings.Fresh());

    public async Task DisposeAsync() => await Host.DisposeAsync();
}
