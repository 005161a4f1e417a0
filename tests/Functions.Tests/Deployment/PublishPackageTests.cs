using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using AgentRuns.Functions.Tests.Support;
using Microsoft.Azure.Functions.Worker;

namespace AgentRuns.Functions.Tests.Deployment;

/// <summary><c>dotnet publish</c> of the Functions app gives a package the Functions host can load.</summary>
public sealed class PublishPackageTests
{
    [Fact]
    public async Task Publish_ListsEveryFunctionInFunctionsMetadata_AndShipsHostAndExtensionsJson()
    {
        var output = Path.Combine(Path.GetTempPath(), "agent-runs-publish-" + Guid.NewGuid().ToString("N")[..8]);
        var publish = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { "publish", Path.Combine(RepositoryRoot.Path, "src", "Functions", "Functions.csproj"), "-c", "Release", "-o", output, "--nologo" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(publish)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(8));
        Assert.True(process.ExitCode == 0, $"dotnet publish failed:\n{await stdout}\n{await stderr}");

        Assert.True(File.Exists(Path.Combine(output, "host.json")), "host.json is missing");
        Assert.True(File.Exists(Path.Combine(output, ".azurefunctions", "extensions.json")) || File.Exists(Path.Combine(output, "extensions.json")), "extensions.json is missing");
        Assert.False(File.Exists(Path.Combine(output, "local.settings.json")), "local.settings.json must never be published");
        using (var host = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "host.json"))))
        {
            Assert.Equal("", host.RootElement.GetProperty("extensions").GetProperty("http").GetProperty("routePrefix").GetString());
        }

        using var metadata = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "functions.metadata")));
        var published = metadata.RootElement.EnumerateArray().Select(f => f.GetProperty("name").GetString()!).ToHashSet();
        var declared = typeof(RunOptions).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods())
            .Select(m => m.GetCustomAttribute<FunctionAttribute>()?.Name)
            .OfType<string>()
            .ToHashSet();
        Assert.True(declared.Count >= 13, $"only {declared.Count} functions declared");
        Assert.Equal(declared.Order(), published.Order());

        // The console and the OpenAPI document ship with the app, byte for byte as in the repository.
        var console = Path.Combine(RepositoryRoot.Path, "src", "Functions", "Console");
        var sources = Directory.EnumerateFiles(console, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(console, f)).ToList();
        Assert.Contains("index.html", sources);
        Assert.All(sources, f => Assert.Equal(File.ReadAllBytes(Path.Combine(console, f)), File.ReadAllBytes(Path.Combine(output, "console", f))));
        Assert.Equal(
            File.ReadAllBytes(Path.Combine(RepositoryRoot.Path, "src", "Functions", "OpenApi", "openapi.json")),
            File.ReadAllBytes(Path.Combine(output, "openapi", "openapi.json")));
        Directory.Delete(output, recursive: true);
    }
}
