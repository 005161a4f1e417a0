using AgentRuns.LocalHost;
using System.Text.Json;
using AgentRuns.Functions;

namespace AgentRuns.EndToEnd.Tests;

/// <summary>The local host serves exactly the HTTP routes that the Functions host serves from the generated metadata.</summary>
public sealed class RouteMetadataTests
{
    [Fact]
    public void Routes_MatchTheGeneratedFunctionsMetadata()
    {
        var generated = ReadHttpTriggers(Path.Combine(AppContext.BaseDirectory, "functions.metadata"));
        var reflected = FunctionRouteMapper.Discover(typeof(RunsServiceCollectionExtensions).Assembly).Select(Key).ToList();

        Assert.NotEmpty(generated);
        Assert.Equal(reflected.Count, reflected.Distinct().Count());
        Assert.Empty(generated.Except(reflected)); // functions the local host does not serve
        Assert.Empty(reflected.Except(generated)); // routes the Functions host does not serve
    }

    private static string Key(FunctionRoute route) => Key(route.Name, route.Route, route.Methods);

    private static string Key(string name, string route, IEnumerable<string> methods) =>
        $"{name} {string.Join(",", methods.Select(m => m.ToUpperInvariant()).Order(StringComparer.Ordinal))} {route.TrimStart('/').ToUpperInvariant()}";

    private static List<string> ReadHttpTriggers(string path)
    {
        Assert.True(File.Exists(path), $"{path} is missing: the Functions SDK generates it when src/Functions builds.");
        using var metadata = JsonDocument.Parse(File.ReadAllText(path));
        var triggers = new List<string>();
        foreach (var function in metadata.RootElement.EnumerateArray())
        {
            var name = function.GetProperty("name").GetString()!;
            foreach (var binding in function.GetProperty("bindings").EnumerateArray())
            {
                if (!string.Equals(binding.GetProperty("type").GetString(), "httpTrigger", StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                // As the Functions host: no route means the function's name, no methods means any method.
                var route = binding.TryGetProperty("route", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()! : name;
                var methods = binding.TryGetProperty("methods", out var m) && m.ValueKind == JsonValueKind.Array
                    ? m.EnumerateArray().Select(x => x.GetString()!)
                    : [];
                triggers.Add(Key(name, route, methods));
            }
        }

        return triggers;
    }
}
