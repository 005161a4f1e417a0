using Microsoft.Extensions.Hosting;

namespace AgentRuns.Functions.Storage;

/// <summary>Creates the tables at start-up (Bicep creates them in Azure; Azurite starts empty).</summary>
internal sealed class TableInitializer(RunTables tables) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => tables.EnsureCreatedAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
