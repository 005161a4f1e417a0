using System.Net;
using AgentRuns.Functions;
using AgentRuns.LocalHost;
using Microsoft.AspNetCore.Server.Kestrel.Core;

// The Functions app's HTTP functions, orchestration and activities outside the Functions host: for development and
// tests on machines without Core Tools. Never deployed.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
var options = LocalHostOptions.From(builder.Configuration, Path.Combine(AppContext.BaseDirectory, "host.json"));
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.Listen(IPAddress.Loopback, options.HttpPort, listen => listen.Protocols = HttpProtocols.Http1);
    kestrel.Listen(IPAddress.Loopback, options.GrpcPort, listen => listen.Protocols = HttpProtocols.Http2);
});
if (options.CountStorageRequests)
{
    builder.Services.AddStorageRequestCounting();
}

builder.Services.AddRunsServices();
builder.Services.AddDurableOnAzureStorage(options);
builder.Services.AddHostedService<MaintenanceLoop>();

var app = builder.Build();
app.UseLocalHostDiagnostics(options.HttpPort);
app.MapFunctions(typeof(RunsServiceCollectionExtensions).Assembly, options.HttpPort);
await app.UseDurableOnAzureStorageAsync(options);
await app.RunAsync();
